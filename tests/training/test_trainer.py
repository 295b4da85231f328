"""The trainer's contract: event order, thinning, determinism, cancel, divergence, failure."""

import itertools

import pytest
import torch

from app.training.events import without_timing

from .helpers import of_type, run, snapshots

SOFTMAX_DIGITS = dict(model="softmax", dataset="digits", batch_size=32, epochs=3)


def test_events_come_in_the_documented_order(data_dir):
    events = run(data_dir, **SOFTMAX_DIGITS)
    kinds = [e.type for e in events]
    assert kinds[:2] == ["started", "snapshot"] and kinds[-1] == "finished"
    assert kinds.count("epoch") == 3 and kinds.count("finished") == 1
    steps = [e.step for e in of_type(events, "step")]
    assert steps == sorted(steps) and len(set(steps)) == len(steps)
    for epoch in of_type(
        events, "epoch"
    ):  # each epoch event follows that epoch's steps and precedes the next
        index = events.index(epoch)
        assert all(e.epoch <= epoch.epoch for e in of_type(events[:index], "step"))
        assert all(e.epoch > epoch.epoch for e in of_type(events[index:], "step"))


@pytest.mark.parametrize("batch_size", [1, 8, 64])
def test_step_events_do_not_grow_with_smaller_batches(data_dir, batch_size):
    events = run(data_dir, model="linreg", batch_size=batch_size, epochs=1, step_events_per_epoch=20)
    n_steps = len(of_type(events, "step"))
    assert 10 <= n_steps <= 40
    assert events[0].steps_per_epoch == -(-1000 // batch_size)


def test_the_same_seed_gives_the_same_events(data_dir):
    first = [without_timing(e) for e in run(data_dir, seed=7, **SOFTMAX_DIGITS)]
    again = [without_timing(e) for e in run(data_dir, seed=7, **SOFTMAX_DIGITS)]
    other = [without_timing(e) for e in run(data_dir, seed=8, **SOFTMAX_DIGITS)]
    assert first == again
    assert first != other
    assert (
        of_type(run(data_dir, seed=7, **SOFTMAX_DIGITS), "step")[0].loss
        != of_type(run(data_dir, seed=8, **SOFTMAX_DIGITS), "step")[0].loss
    )


def test_cancel_stops_within_one_step(data_dir):
    """The flag is read before every step, and between the chunks of an evaluation: the untrained
    model's evaluation of digits' test set is one chunk, so the sixth read comes before step 6."""
    checks = itertools.count(1)
    events = run(data_dir, should_stop=lambda: next(checks) > 6, **SOFTMAX_DIGITS)
    assert events[-1].status == "cancelled"
    assert events[-1].message == "cancelled at step 5"
    assert all(e.step <= 5 for e in of_type(events, "step"))
    assert not of_type(events, "epoch")


def test_a_huge_learning_rate_diverges_with_advice(data_dir):
    events = run(data_dir, model="softmax", dataset="digits", lr=1000)
    assert events[-1].status == "diverged"
    assert "learning rate 1000 is too high" in events[-1].message
    assert "try 0.1 or less" in events[-1].message


def test_mlp_divergence_suggests_the_book_rate(data_dir):
    events = run(data_dir, model="mlp", dataset="digits", lr=30, batch_size=32)
    assert events[-1].status == "diverged"
    assert "try 0.5 or less" in events[-1].message


def test_a_missing_dataset_fails_the_run_with_a_message(data_dir):
    events = run(data_dir, model="softmax", dataset="fashion-mnist")
    assert [e.type for e in events] == ["finished"]
    assert events[0].status == "failed"
    assert "data fetch fashion-mnist" in events[0].message or str(data_dir) in events[0].message


def test_auto_dataset_falls_back_to_digits_offline(data_dir):
    started = run(data_dir, model="mlp", epochs=1)[0]
    assert started.dataset == "digits" and started.num_inputs == 64 and started.num_outputs == 10


def test_started_describes_the_run(data_dir):
    started = run(data_dir, model="mlp", dataset="digits", hidden_units=32, epochs=1)[0]
    assert started.param_count == 64 * 32 + 32 + 32 * 10 + 10
    assert started.n_train + started.n_test == 1797
    assert started.preview["kind"] == "images" and len(started.preview["pixels"][0]) == 64


def test_snapshots_draw_each_kind_of_model(data_dir):
    boundary = snapshots(run(data_dir, model="mlp", dataset="xor", epochs=1), "boundary")[-1]
    assert boundary.kind == "boundary"
    probs = boundary.data["probs"]
    assert len(probs) == 64 and len(probs[0]) == 64 and sum(probs[10][20]) == pytest.approx(1, abs=0.01)
    images = snapshots(run(data_dir, model="softmax", dataset="digits", epochs=1), "images")[-1]
    assert images.kind == "images" and len(images.data["templates"]) == 10
    assert len(images.data["templates"][0]) == 64 and len(images.data["predicted"]) == 24


def test_cancel_is_noticed_between_the_chunks_of_an_evaluation(data_dir):
    """A big model's test set is evaluated in chunks small enough to notice a cancel within about a
    second: stop asked during the first evaluation ends the run before any step."""
    from app.training.trainer import eval_chunk

    spec = {"model": "mlp", "dataset": "digits", "hidden_units": 4096, "hidden_layers": 3, "epochs": 1}
    checks = itertools.count(1)
    events = run(data_dir, should_stop=lambda: next(checks) > 1, **spec)
    assert events[-1].status == "cancelled" and events[-1].message == "cancelled at step 0"
    assert not of_type(events, "step")
    big = build_for_eval(spec)
    assert eval_chunk(big) < 359, "digits' test set takes more than one chunk for this model"


def build_for_eval(raw: dict):
    from app.training.models import build_model
    from app.training.specs import parse_spec

    return build_model(parse_spec(raw), 64, 10, torch.Generator().manual_seed(0), "cpu")
