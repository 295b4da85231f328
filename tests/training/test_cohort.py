"""The cohort trainer: each member's events are its run's events alone, whatever the other members do."""

import itertools
import math

import pytest
import torch

from app.training.cohort import CohortError, check_cohort, signature, train_cohort
from app.training.events import without_timing
from app.training.models import batched
from app.training.specs import parse_spec
from app.training.trainer import train

# How close a member's numbers must be to its run alone: losses within 1e-5 relative (the issue's
# tolerance); numbers the events round (pictures, gradient norms to 4 digits) within one unit of their
# last digit, since a rounding can flip; accuracies within one example; class picks within one image.
LOSS_REL = 1e-5
ROUNDED_ABS = {"probs": 1.01e-3, "templates": 1.01e-4, "w": 1.01e-5, "b": 1.01e-5}
GRAD_NORM_REL = 1.01e-3
ACCURACY_FIELDS = {"train_acc", "test_acc", "initial_test_acc"}


def cohort_events(specs, data_dir, should_stop=lambda member: False, **options):
    """Each member's events, in the order the cohort yielded them."""
    events = {member: [] for member in range(len(specs))}
    for member, event in train_cohort(
        specs, data_dir=data_dir, device="cpu", should_stop=should_stop, **options
    ):
        events[member].append(event)
    return events


def alone(spec, data_dir, should_stop=lambda: False):
    return list(train(spec, data_dir=data_dir, device="cpu", should_stop=should_stop))


def assert_same_run(member_events, alone_events):
    assert [e.type for e in member_events] == [e.type for e in alone_events]
    started = alone_events[0]
    one_example = 1.01 / min(started.n_train, started.n_test) if started.type == "started" else 0
    for mine, theirs in zip(member_events, alone_events, strict=True):
        where = f"{theirs.type} event"
        if theirs.type == "finished":
            assert_same_ending(mine, theirs)
        else:
            assert_close(without_timing(mine), without_timing(theirs), where, one_example)


def assert_same_ending(mine, theirs):
    """Same status, reason and step; the numbers in the message (4 significant digits) may differ in
    their last digit."""
    assert (mine.status, mine.code, mine.epochs_done) == (theirs.status, theirs.code, theirs.epochs_done)
    assert mine.params.keys() == theirs.params.keys()
    for name, value in theirs.params.items():
        try:
            expected = float(value)
        except (TypeError, ValueError):
            assert mine.params[name] == value, name
            continue
        got = float(mine.params[name])
        assert (math.isnan(got) and math.isnan(expected)) or got == pytest.approx(expected, rel=2e-3), name


def assert_close(mine, theirs, where: str, one_example: float, key: str = ""):
    if isinstance(theirs, dict):
        assert mine.keys() == theirs.keys(), where
        for name in theirs:
            assert_close(mine[name], theirs[name], f"{where}.{name}", one_example, name)
    elif key == "predicted":  # a tie may flip one picture's class
        assert sum(a != b for a, b in zip(mine, theirs, strict=True)) <= 1, where
    elif key == "matrix":  # ... and so move one count
        flat = [
            abs(a - b)
            for row_a, row_b in zip(mine, theirs, strict=True)
            for a, b in zip(row_a, row_b, strict=True)
        ]
        assert sum(flat) <= 2, where
    elif isinstance(theirs, list):
        assert len(mine) == len(theirs), where
        for number, (a, b) in enumerate(zip(mine, theirs, strict=True)):
            assert_close(a, b, f"{where}[{number}]", one_example, key)
    elif isinstance(theirs, float) and not isinstance(mine, bool):
        assert mine == pytest.approx(theirs, **tolerance(key, one_example), nan_ok=True), where
    else:
        assert mine == theirs, where


def tolerance(key: str, one_example: float) -> dict:
    if key in ROUNDED_ABS:
        return {"rel": 0, "abs": ROUNDED_ABS[key]}
    if key in ACCURACY_FIELDS:
        return {"rel": 0, "abs": one_example}
    if key == "grad_norm":
        return {"rel": GRAD_NORM_REL, "abs": 0}
    return {"rel": LOSS_REL, "abs": 1e-9}


def specs_of(base: dict, members: list[dict]):
    return [parse_spec(base | member) for member in members]


SOFTMAX_DIGITS = dict(model="softmax", dataset="digits", batch_size=32, epochs=2)
MLP_SPIRAL = dict(model="mlp", dataset="spiral", batch_size=16, epochs=2, hidden_units=16, hidden_layers=2)


@pytest.mark.parametrize("kernel", ["onednn", "matmul"])
@pytest.mark.parametrize("impl", ["scratch", "concise"])
def test_softmax_members_equal_their_runs_alone(data_dir, impl, kernel, monkeypatch):
    """The wide layer through each of the CPU's kernels (batched.wide_kernel picks one by the CPU)."""
    monkeypatch.setattr(batched, "WIDE_KERNEL", kernel)
    members = [
        dict(lr=0.1),
        dict(lr=0.5, init_std=0.1, weight_decay=0.01),
        dict(lr=0.03, init_std=0.0, weight_decay=0.001, insights=False),
        dict(lr=0.2, step_events_per_epoch=7),
    ]
    if impl == "scratch":
        members.append(dict(lr=0.2, naive_softmax=True))
    specs = specs_of(SOFTMAX_DIGITS | {"impl": impl}, members)
    events = cohort_events(specs, data_dir)
    for member, spec in enumerate(specs):
        assert events[member][-1].status == "done"
        assert_same_run(events[member], alone(spec, data_dir))


def test_each_member_ends_right_after_its_own_last_pictures(data_dir):
    """A class's cohort of many: the first member's student must not wait while the last epoch's
    pictures of all the others are drawn, so its `finished` comes before the next member's last epoch."""
    specs = specs_of(SOFTMAX_DIGITS, [dict(lr=lr) for lr in (0.05, 0.1, 0.2)])
    order = [
        (member, event.type)
        for member, event in train_cohort(specs, data_dir=data_dir, device="cpu")
        if event.type in ("epoch", "finished")
    ]
    last_epoch = SOFTMAX_DIGITS["epochs"]
    assert order[-6:] == [(m, kind) for m in range(3) for kind in ("epoch", "finished")]
    assert sum(kind == "epoch" for _, kind in order) == 3 * last_epoch


@pytest.mark.parametrize("impl", ["scratch", "concise"])
def test_mlp_members_equal_their_runs_alone(data_dir, impl):
    """Two hidden layers (the wide first layer and a batched one), each member its own activation;
    layer health and decision boundaries per member."""
    members = [
        dict(lr=0.5, activation="relu"),
        dict(lr=1.0, activation="sigmoid", init_std=0.5, weight_decay=0.001),
        dict(lr=0.3, activation="tanh", init_std=0.3, step_events_per_epoch=5),
        dict(lr=0.5, activation="leaky_relu", init_std=0.2, insights=False),
        dict(lr=0.2, activation="relu", init_std=0.3, weight_decay=0.01),
    ]
    if impl == "scratch":
        members.append(dict(lr=0.5, activation="sigmoid", init_std=0.3, naive_softmax=True))
    specs = specs_of(MLP_SPIRAL | {"impl": impl}, members)
    events = cohort_events(specs, data_dir)
    for member, spec in enumerate(specs):
        assert events[member][-1].status == "done"
        assert any(e.type == "step" and e.layers for e in events[member]) == spec.insights
        assert_same_run(events[member], alone(spec, data_dir))


def test_mlp_members_equal_their_runs_alone_on_images(data_dir):
    """One hidden layer on digits: the wide layer feeds the output layer directly."""
    base = dict(model="mlp", dataset="digits", batch_size=64, epochs=1, hidden_units=32)
    specs = specs_of(base, [dict(lr=0.5), dict(lr=0.1, activation="tanh", skip_zero_grad=True)])
    events = cohort_events(specs, data_dir)
    for member, spec in enumerate(specs):
        assert_same_run(events[member], alone(spec, data_dir))


def test_a_diverging_member_ends_alone_and_the_others_are_unchanged(data_dir):
    members = [
        dict(lr=0.1),
        dict(lr=1000),  # runs away: learning rate too high
        dict(lr=0.3, init_std=0.1),
        dict(lr=10, naive_softmax=True),  # exp() overflows: NaN
        dict(lr=0.5, skip_zero_grad=True),
    ]
    specs = specs_of(SOFTMAX_DIGITS, members)
    events = cohort_events(specs, data_dir)
    endings = [events[member][-1] for member in range(len(specs))]
    assert [e.status for e in endings] == ["done", "diverged", "done", "diverged", "done"]
    assert endings[1].code == "diverged_lr" and endings[3].code == "diverged_naive"
    assert not [e for e in events[1] if e.type == "epoch"], "it diverged within the first epoch"
    for member, spec in enumerate(specs):
        assert_same_run(events[member], alone(spec, data_dir))


def test_cancelling_one_member_leaves_the_others_unchanged(data_dir):
    """The cohort asks each member's should_stop where its run alone asks: before every step and before
    each chunk of an evaluation. Member 1 stops before its 50th step (in the second epoch), member 2
    during the first evaluation, before any step."""
    specs = specs_of(SOFTMAX_DIGITS, [dict(lr=0.1), dict(lr=0.2), dict(lr=0.3), dict(lr=0.4)])
    stops_after = {1: 51, 2: 0}

    def counter(checks_allowed):
        checks = itertools.count(1)
        return lambda: next(checks) > checks_allowed

    asks = {member: counter(allowed) for member, allowed in stops_after.items()}
    events = cohort_events(specs, data_dir, should_stop=lambda member: member in asks and asks[member]())
    assert events[1][-1].message == "cancelled at step 49" and events[1][-1].epochs_done == 1
    assert [e.type for e in events[2]] == ["finished"] and events[2][0].message == "cancelled at step 0"
    for member, spec in enumerate(specs):
        should_stop = counter(stops_after[member]) if member in stops_after else lambda: False
        assert_same_run(events[member], alone(spec, data_dir, should_stop))
    assert [events[member][-1].status for member in (0, 3)] == ["done", "done"]


def test_every_member_cancelled_ends_the_cohort(data_dir):
    specs = specs_of(SOFTMAX_DIGITS, [dict(lr=0.1), dict(lr=0.2)])
    events = cohort_events(specs, data_dir, should_stop=lambda member: True)
    assert [[e.type for e in events[m]] for m in (0, 1)] == [["finished"], ["finished"]]
    assert {events[m][0].status for m in (0, 1)} == {"cancelled"}


def test_a_missing_dataset_fails_every_member_with_its_code(data_dir):
    specs = specs_of(dict(model="softmax", dataset="fashion-mnist"), [dict(lr=0.1), dict(lr=0.2)])
    events = cohort_events(specs, data_dir)
    for member, spec in enumerate(specs):
        [ending] = events[member]
        [theirs] = alone(spec, data_dir)
        assert (ending.status, ending.code) == ("failed", theirs.code) and ending.code.startswith("download_")


@pytest.mark.parametrize("raw", [dict(SOFTMAX_DIGITS, epochs=1), dict(model="linreg", epochs=1)])
def test_a_cohort_of_one_is_its_run_alone(data_dir, raw):
    spec = parse_spec(raw)
    events = cohort_events([spec], data_dir)
    assert [without_timing(e) for e in events[0]] == [without_timing(e) for e in alone(spec, data_dir)]


def test_the_signature_says_which_runs_can_share():
    def sig(**raw):
        return signature(parse_spec({"model": "mlp", "dataset": "digits"} | raw))

    assert sig(lr=0.1) == sig(lr=0.3, init_std=0.1, weight_decay=0.01, activation="tanh", naive_softmax=True)
    assert sig(skip_zero_grad=True, insights=False, step_events_per_epoch=5) == sig()
    assert sig(n_examples=100, noise=0.5) == sig(), "digits ignores the 2-D sets' settings"
    for other in (dict(seed=1), dict(batch_size=64), dict(epochs=3), dict(hidden_units=8)):
        assert sig(**other) != sig(), other
    assert sig(hidden_layers=2) != sig() and sig(impl="concise") != sig()
    spiral = dict(dataset="spiral")
    assert sig(**spiral, n_examples=300) != sig(**spiral) and sig(**spiral, noise=0.1) != sig(**spiral)
    assert signature(parse_spec({"model": "softmax", "dataset": "digits"})) != sig()
    assert signature(parse_spec({"model": "linreg"})) is None


def test_specs_that_cannot_share_are_refused_at_once():
    digits = dict(model="softmax", dataset="digits")
    with pytest.raises(CohortError, match="one signature"):
        train_cohort(specs_of(digits, [dict(), dict(seed=1)]), data_dir=".")
    with pytest.raises(CohortError, match="alone"):
        check_cohort([parse_spec({"model": "linreg"}), parse_spec({"model": "linreg", "lr": 0.01})])
    with pytest.raises(CohortError, match="1 to 3"):
        check_cohort(specs_of(digits, [dict(lr=0.1 * k) for k in range(1, 5)]), max_members=3)
    with pytest.raises(CohortError, match="1 to"):
        check_cohort([])


def test_a_run_that_draws_its_neurons_trains_alone():
    spec = parse_spec({"model": "mlp", "dataset": "spiral", "neurons": True})
    assert signature(spec) is None
    assert signature(parse_spec({"model": "mlp", "dataset": "spiral"})) is not None


def test_the_wide_layer_runs_on_onednn_where_torch_has_it():
    """This CPU's torch has oneDNN; its product is torch's up to float32 rounding."""
    X, W_rows = torch.rand(256, 784), torch.randn(40, 784)
    assert batched.ONEDNN_LINEAR
    product = batched.onednn_linear(X, W_rows)
    assert product is not None
    torch.testing.assert_close(product, X @ W_rows.T, rtol=1e-5, atol=1e-4)
    assert batched.onednn_linear(X.double(), W_rows.double()) is None  # float32 only


def test_the_wide_layer_takes_mkl_on_intel_and_onednn_on_other_cpus():
    """MKL runs at full speed on Intel CPUs only; on an AMD CPU oneDNN was ~2x faster (bench/README.md)."""
    assert batched.wide_kernel("GenuineIntel") == "matmul"
    assert batched.wide_kernel("AuthenticAMD") == "onednn"
    assert batched.wide_kernel("") == "onednn"  # no /proc/cpuinfo: oneDNN, as on any non-Intel CPU
    assert batched.cpu_vendor() in {"GenuineIntel", "AuthenticAMD"}  # what this Linux machine says
    assert batched.wide_kernel(batched.cpu_vendor()) == batched.WIDE_KERNEL
