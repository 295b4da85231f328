"""The d2l-playground command, run as a user runs it."""

import json
import os
import subprocess
import sys

from typer.testing import CliRunner

from app.cli import app

runner = CliRunner()


def test_train_json_prints_every_event_as_a_json_line(data_dir):
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "train", "linreg", "--json", "--epochs", "2"],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ | {"PLAYGROUND_DATA_DIR": str(data_dir)},
    )
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events[0]["type"] == "started" and events[-1]["type"] == "finished"
    assert [e["epoch"] for e in events if e["type"] == "epoch"] == [1, 2]
    assert events[-1]["status"] == "done"


def test_train_prints_a_row_per_epoch_and_the_outcome(data_dir):
    result = runner.invoke(
        app, ["train", "softmax", "--dataset", "digits", "--batch-size", "32", "--epochs", "2"]
    )
    assert result.exit_code == 0, result.output
    assert "softmax (scratch) on digits" in result.output
    assert "per epoch" in result.output and "test acc" in result.output
    assert "done" in result.output


def test_mlp_options_reach_the_spec(data_dir):
    result = runner.invoke(
        app,
        [
            "train",
            "mlp",
            "--dataset",
            "xor",
            "--hidden-units",
            "8",
            "--hidden-layers",
            "2",
            "--activation",
            "tanh",
            "--impl",
            "concise",
            "--epochs",
            "1",
            "--json",
        ],
    )
    started = json.loads(result.output.splitlines()[0])
    assert started["spec"]["hidden_units"] == 8 and started["spec"]["activation"] == "tanh"
    assert started["param_count"] == 2 * 8 + 8 + 8 * 8 + 8 + 8 * 2 + 2


def test_the_data_controls_of_the_2d_sets_reach_the_spec_and_the_data(data_dir):
    """--noise, --n-examples, --test-share and --data-seed, as the page's data controls set them."""

    def started(*options):
        command = ["train", "softmax", "--dataset", "circles", "--epochs", "1", "--json", *options]
        result = runner.invoke(app, command)
        assert result.exit_code == 0, result.output
        return json.loads(result.output.splitlines()[0])

    first = started("--n-examples", "200", "--test-share", "0.4", "--data-seed", "7", "--noise", "0.1")
    assert first["spec"]["test_share"] == 0.4 and first["spec"]["data_seed"] == 7
    assert (first["n_train"], first["n_test"]) == (120, 80)
    again = started("--n-examples", "200", "--test-share", "0.4", "--data-seed", "7", "--noise", "0.1")
    other = started("--n-examples", "200", "--test-share", "0.4", "--data-seed", "8", "--noise", "0.1")
    assert first["initial_test_loss"] == again["initial_test_loss"] != other["initial_test_loss"]


def test_a_bad_spec_is_refused_with_the_field_and_range(data_dir):
    result = runner.invoke(app, ["train", "softmax", "--lr", "0", "--batch-size", "0"])
    assert result.exit_code == 2
    assert "lr: must be between 0 (exclusive) and 1000" in result.output
    assert "batch_size: must be between 1 and 8192" in result.output


def test_a_diverged_run_exits_non_zero_with_advice(data_dir):
    result = runner.invoke(app, ["train", "softmax", "--dataset", "digits", "--lr", "1000"])
    assert result.exit_code == 1
    assert "diverged" in result.output and "too high" in result.output


def test_data_list_shows_what_is_ready_offline(data_dir):
    result = runner.invoke(app, ["data", "list"])
    assert result.exit_code == 0
    assert "digits" in result.output and "fashion-mnist" in result.output
    assert "data fetch fashion-mnist" in result.output


def test_data_fetch_offline_says_where_to_put_the_files(data_dir):
    result = runner.invoke(app, ["data", "fetch", "fashion-mnist"])
    assert result.exit_code == 1
    assert "fashion-mnist" in result.output
