"""A run taken home as a notebook trains it again: executed headless in a kernel it reaches the run's
numbers (linear regression's w and b, a classifier's test accuracy), and every implementation's notebook
runs through and reaches its run's accuracy when its code is executed here."""

import ast
import re
import sys
import warnings

import matplotlib
import pytest

from app.notebook import notebook_for, result_from_events
from app.notebook.source import free_names
from app.training.code import SECTIONS

from .kernel import execute, notebook_of, trained

ALLOWED = {"torch", "numpy", "matplotlib", "sklearn"} | set(sys.stdlib_module_names)
CJK = re.compile(r"[\u4e00-\u9fff]")
SHORT = {  # one short run per implementation, on data that needs no download
    "linreg": {"model": "linreg", "epochs": 2, "n_examples": 300},
    "softmax": {"model": "softmax", "dataset": "digits", "epochs": 1},
    "mlp": {"model": "mlp", "dataset": "blobs", "epochs": 2, "hidden_units": 16, "hidden_layers": 2},
}


def code_of(notebook) -> str:
    return "\n\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")


def last_epoch(events: list[dict]) -> dict:
    return [event for event in events if event["type"] == "epoch"][-1]


def test_linear_regression_learns_the_runs_w_and_b_in_a_kernel(data_dir):
    spec, events = trained({"model": "linreg", "seed": 5}, data_dir)
    final = [e for e in events if e["type"] == "snapshot" and e["kind"] == "linear"][-1]["data"]
    # rounded as the run's snapshot rounds them (app/training/snapshots.py: linear_data)
    report = (
        '{"w": torch.round(model.weights()["w"][:, 0].double(), decimals=5).tolist(), '
        '"b": torch.round(model.weights()["b"].double(), decimals=5).tolist()[0], '
        '"test_loss": history["test_loss"][-1]}'
    )
    got = execute(notebook_of(spec, events), report)
    assert all(abs(a - b) <= 1e-6 for a, b in zip(got["w"], final["w"], strict=True)), (got, final)
    assert abs(got["b"] - final["b"]) <= 1e-6
    assert got["test_loss"] == pytest.approx(last_epoch(events)["test_loss"], rel=1e-6)


@pytest.mark.parametrize(
    ("spec", "lang"),
    [
        ({"model": "softmax", "dataset": "digits", "epochs": 2, "seed": 1}, "en"),
        ({"model": "mlp", "impl": "concise", "dataset": "spiral", "epochs": 3, "hidden_units": 64}, "zh"),
    ],
    ids=["softmax-digits", "mlp-spiral-zh"],
)
def test_a_classifier_reaches_the_runs_test_accuracy_in_a_kernel(spec, lang, data_dir):
    spec, events = trained(spec, data_dir)
    report = (
        '{"test_acc": history["test_acc"][-1], "n_test": len(data.X_test), "epoch": history["epoch"][-1]}'
    )
    got = execute(notebook_of(spec, events, lang), report)
    last = last_epoch(events)
    assert got["epoch"] == last["epoch"] == spec["epochs"]
    assert abs(got["test_acc"] - last["test_acc"]) * got["n_test"] <= 1 + 1e-9, (got, last)


@pytest.mark.parametrize(("model", "impl"), list(SECTIONS), ids=[f"{m}-{i}" for m, i in SECTIONS])
def test_every_implementations_notebook_runs_to_the_runs_numbers(model, impl, data_dir):
    """Executed here (the same process and threads as the run): the same last epoch, exactly."""
    spec, events = trained(SHORT[model] | {"impl": impl}, data_dir)
    namespace: dict = {}
    matplotlib.use("Agg")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Agg cannot show a figure: plt.show() says so
        exec(compile(code_of(notebook_of(spec, events)), "notebook", "exec"), namespace)
    matplotlib.pyplot.close("all")
    last, history = last_epoch(events), namespace["history"]
    assert history["epoch"][-1] == last["epoch"]
    assert history["test_loss"][-1] == last["test_loss"]
    if model != "linreg":
        assert history["test_acc"][-1] == last["test_acc"]


@pytest.mark.parametrize("dataset", ["digits", "spiral", "fashion-mnist"])
@pytest.mark.parametrize(("model", "impl"), list(SECTIONS), ids=[f"{m}-{i}" for m, i in SECTIONS])
def test_a_notebook_imports_only_the_allowed_libraries_and_defines_what_it_uses(model, impl, dataset):
    spec = {"model": model, "impl": impl} | ({} if model == "linreg" else {"dataset": dataset})
    from app.training.specs import parse_spec

    notebook = notebook_for(parse_spec(spec).model_dump(), {"id": "x", "status": "done"}, "en")
    code = code_of(notebook)
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            assert {alias.name.split(".")[0] for alias in node.names} <= ALLOWED
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0 and node.module.split(".")[0] in ALLOWED, node.module
    assert free_names(code) == set(), "every name the notebook reads is defined in it"


def test_a_diverged_runs_notebook_says_so_in_its_first_cell(data_dir):
    spec, events = trained({"model": "linreg", "lr": 5.0, "epochs": 2}, data_dir)
    assert events[-1]["status"] == "diverged"
    first = notebook_of(spec, events).cells[0]
    comments = first.source.replace("\n# ", " ")  # a long sentence is wrapped over comment lines
    assert first.cell_type == "code" and "This run DIVERGED: loss became" in comments
    assert "learning rate 5 is too high" in comments
    assert "spec = {" in first.source  # the settings stay the first cell's code
    zh = notebook_of(spec, events, "zh").cells[0].source
    assert "发散" in zh


def test_a_failed_runs_notebook_says_so_with_the_runs_message():
    spec = {"model": "softmax", "impl": "scratch", "dataset": "fashion-mnist", "epochs": 1}
    result = {"id": "f", "status": "failed", "message": "could not download train-images-idx3-ubyte.gz"}
    first = notebook_for(spec | SHORT["softmax"] | {"dataset": "fashion-mnist"}, result, "en").cells[0]
    assert "FAILED: could not download train-images-idx3-ubyte.gz" in first.source.replace("\n# ", " ")


def test_every_markdown_cell_of_a_chinese_notebook_is_chinese(data_dir):
    spec, events = trained(SHORT["mlp"] | {"impl": "scratch"}, data_dir)
    notebook = notebook_of(spec, events, "zh")
    markdown = [cell.source for cell in notebook.cells if cell.cell_type == "markdown"]
    assert len(markdown) >= 8 and all(CJK.search(text) for text in markdown)
    english = notebook_of(spec, events, "en")
    assert not any(CJK.search(cell.source) for cell in english.cells if cell.cell_type == "markdown")


def test_the_model_code_is_the_code_panels_text():
    """Each part's code cell holds exactly the text app.training.code gives the panel."""
    from app.training.code import blocks, source_of

    notebook = notebook_for(
        {"model": "mlp", "impl": "scratch"} | SHORT["mlp"], {"id": "x", "status": "done"}, "en"
    )
    code = code_of(notebook)
    for block in blocks("mlp", "scratch"):
        for obj in block.objects:
            assert source_of(obj) in code, obj.qualname


def test_result_from_events_reads_the_ending_and_the_epochs(data_dir):
    spec, events = trained(SHORT["softmax"], data_dir)
    result = result_from_events("r", events)
    assert result["status"] == "done" and result["dataset"] == "digits" and len(result["epochs"]) == 1
