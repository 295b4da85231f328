"""`d2l-playground notebook RUN_ID` and `d2l-playground train ... --notebook FILE`, through typer's runner."""

import nbformat
from typer.testing import CliRunner

from app.cli import app
from app.runs.store import RunStore
from app.settings import get_settings

from .kernel import trained

runner = CliRunner()


def test_train_writes_the_notebook_of_the_run_it_trained(data_dir):
    out = data_dir / "linreg.ipynb"
    result = runner.invoke(app, ["train", "linreg", "--epochs", "1", "--notebook", str(out)])
    assert result.exit_code == 0, result.output
    assert f"notebook written to {out}" in " ".join(result.output.split())
    notebook = nbformat.read(out, 4)
    nbformat.validate(notebook)
    assert "The run ended normally" in notebook.cells[0].source and '"epochs": 1' in notebook.cells[0].source


def test_notebook_writes_a_finished_run_of_the_servers_store(data_dir, monkeypatch):
    store = RunStore(get_settings().run_store_url())
    spec, events = trained({"model": "softmax", "dataset": "digits", "epochs": 1}, data_dir)
    store.add("a" * 32, spec)
    store.finish("a" * 32, events)
    store.add("b" * 32, spec)  # still queued
    monkeypatch.chdir(data_dir)

    result = runner.invoke(app, ["notebook", "a" * 32, "--lang", "zh", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    notebook = nbformat.read(data_dir / f"d2l-softmax-{'a' * 32}.ipynb", 4)
    assert "这次训练正常结束" in notebook.cells[0].source and "digits" in notebook.cells[0].source

    out = data_dir / "chosen.ipynb"
    assert runner.invoke(app, ["notebook", "a" * 32, "--out", str(out)]).exit_code == 0
    assert "The run ended normally" in nbformat.read(out, 4).cells[0].source

    queued = runner.invoke(app, ["notebook", "b" * 32])
    assert queued.exit_code == 1 and "once it finished" in " ".join(queued.output.split())
    unknown = runner.invoke(app, ["notebook", "nope"])
    assert unknown.exit_code == 2 and "no run 'nope'" in unknown.output
