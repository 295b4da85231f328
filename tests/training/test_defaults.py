"""Defaults that teach: each (model, dataset) pair, trained on the settings it takes when nothing is
changed, shows the lesson its page promises; a setting the caller gives is kept as given."""

import json

import pytest
from typer.testing import CliRunner

from app.cli import app
from app.settings import get_settings
from app.training.budget import cost
from app.training.data import auto_dataset
from app.training.defaults import DEFAULTS, auto_dataset_name, defaults_for
from app.training.specs import SPEC_CLASSES, parse_spec

from .helpers import last_epoch, one_thread, run, write_fashion_like_files  # noqa: F401 (one_thread: autouse)

runner = CliRunner()


def test_every_default_is_a_setting_of_its_model_and_within_its_bounds():
    for (model, dataset), defaults in DEFAULTS.items():
        spec = parse_spec({"model": model, "dataset": dataset})
        assert spec.dataset == dataset
        assert {name: getattr(spec, name) for name in defaults} == defaults


def test_the_books_defaults_on_fashion_mnist_and_for_linear_regression():
    """REFERENCE.md: softmax batch 256, lr 0.1; MLP 784-256-10, lr 0.5 (the port's step on the batch
    mean), N(0, 0.01^2) weights; linear regression batch 10, lr 0.03, 3 epochs."""
    softmax = parse_spec({"model": "softmax", "dataset": "fashion-mnist"})
    assert (softmax.lr, softmax.batch_size, softmax.epochs, softmax.init_std) == (0.1, 256, 10, 0.01)
    mlp = parse_spec({"model": "mlp", "dataset": "fashion-mnist"})
    assert (mlp.lr, mlp.batch_size, mlp.hidden_units, mlp.hidden_layers, mlp.init_std) == (
        0.5,
        256,
        256,
        1,
        0.01,
    )
    linreg = parse_spec({"model": "linreg"})
    assert (linreg.lr, linreg.batch_size, linreg.epochs) == (0.03, 10, 3)
    # the spec classes' own field defaults are the book's too: what a field outside the table takes
    assert SPEC_CLASSES["mlp"].model_fields["batch_size"].default == 256


def test_auto_without_a_concrete_dataset_keeps_the_books_defaults():
    spec = parse_spec({"model": "mlp"})
    assert spec.dataset == "auto" and (spec.batch_size, spec.epochs) == (256, 10)
    assert defaults_for("mlp", "auto") == defaults_for("mlp", "fashion-mnist")


@pytest.mark.parametrize("given", [{"dataset": "auto"}, {}])
def test_auto_dataset_names_the_dataset_trained_and_takes_its_defaults(given):
    spec = parse_spec({"model": "softmax", **given}, auto_dataset="digits")
    assert spec.dataset == "digits" and (spec.batch_size, spec.epochs) == (32, 20)
    spec = parse_spec({"model": "softmax", **given}, auto_dataset="fashion-mnist")
    assert spec.dataset == "fashion-mnist" and spec.batch_size == 256
    chosen = parse_spec({"model": "softmax", "dataset": "xor"}, auto_dataset="digits")
    assert chosen.dataset == "xor"
    assert parse_spec({"model": "linreg"}, auto_dataset="digits").dataset == "synthetic-linear"


def test_auto_dataset_is_fashion_mnist_only_when_its_files_are_on_disk(tmp_path):
    assert auto_dataset(tmp_path) == "digits"
    write_fashion_like_files(tmp_path, n_train=20, n_test=10)
    assert auto_dataset(tmp_path) == "fashion-mnist"
    assert [auto_dataset_name(on_disk) for on_disk in (True, False)] == ["fashion-mnist", "digits"]


@pytest.mark.parametrize("strict", [False, True])
def test_a_field_the_caller_gives_is_kept(strict):
    given = {"model": "mlp", "dataset": "spiral", "epochs": 7, "lr": 0.25, "batch_size": 256}
    spec = parse_spec(given, strict=strict)
    assert (spec.epochs, spec.lr, spec.batch_size) == (7, 0.25, 256)
    assert spec.hidden_units == 256  # what was left out still takes the pair's default


def test_every_pairs_defaults_fit_the_servers_budget():
    settings = get_settings()
    for model, dataset in DEFAULTS:
        spec = parse_spec({"model": model, "dataset": dataset})
        assert not cost(spec.model_dump()).over(
            settings.max_run_work, settings.max_step_work, settings.max_run_events
        ), (model, dataset)


@pytest.mark.parametrize("dataset", ["spiral", "xor", "circles"])
def test_the_mlp_on_its_defaults_separates_the_2d_sets(data_dir, dataset):
    events = run(data_dir, model="mlp", dataset=dataset)
    assert events[-1].status == "done"
    assert last_epoch(events).test_acc >= 0.95


def test_softmax_on_its_defaults_cannot_separate_the_spiral(data_dir):
    events = run(data_dir, model="softmax", dataset="spiral")
    assert events[-1].status == "done" and last_epoch(events).test_acc < 0.70


@pytest.mark.parametrize(("model", "figure"), [("softmax", 0.90), ("mlp", 0.95)])
def test_digits_on_their_defaults(data_dir, model, figure):
    events = run(data_dir, model=model, dataset="digits")
    assert events[-1].status == "done" and last_epoch(events).test_acc >= figure


def test_softmax_on_fashion_mnist_format_data_at_the_books_defaults(data_dir):
    """Measured: 10% untrained, 24% after the first epoch, 89% after the tenth."""
    write_fashion_like_files(data_dir, n_train=2560, n_test=500)
    spec = parse_spec({"model": "softmax"}, auto_dataset=auto_dataset(data_dir))
    events = run(data_dir, **spec.model_dump())
    started, epochs = events[0], [event for event in events if event.type == "epoch"]
    assert started.dataset == "fashion-mnist" and started.n_train == 2560
    assert (started.spec["batch_size"], started.spec["lr"], started.spec["epochs"]) == (256, 0.1, 10)
    assert events[-1].status == "done" and len(epochs) == 10
    assert started.initial_test_acc < 0.2 and epochs[0].test_acc < 0.5
    assert epochs[-1].test_acc >= 0.85


def cli_started(*options: str) -> dict:
    result = runner.invoke(app, ["train", *options, "--json"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    return {"started": lines[0], "epochs": [e for e in lines if e["type"] == "epoch"]}


def test_the_cli_trains_the_mlp_on_the_spirals_defaults(data_dir):
    run_ = cli_started("mlp", "--dataset", "spiral")
    spec = run_["started"]["spec"]
    assert (spec["batch_size"], spec["epochs"], spec["lr"]) == (16, 50, 0.5)
    assert run_["epochs"][-1]["test_acc"] >= 0.95


def test_the_cli_keeps_what_is_given_and_names_the_dataset_auto_chose(data_dir):
    spec = cli_started("mlp", "--epochs", "1", "--lr", "0.2")["started"]["spec"]
    assert spec["dataset"] == "digits"  # no Fashion-MNIST in the empty data directory
    assert (spec["epochs"], spec["lr"], spec["batch_size"]) == (1, 0.2, 32)
