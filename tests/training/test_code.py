"""The code a run executes, as the training core lists it: real source, and every pitfall's line found."""

import inspect
import subprocess
import sys
import textwrap

import pytest
import torch

from app.training import code, trainer
from app.training.models import IMPLEMENTATIONS, build_model
from app.training.specs import parse_spec

PAIRS = list(code.SECTIONS)


@pytest.mark.parametrize("model, impl", PAIRS)
def test_each_part_is_the_source_of_what_trains(model, impl):
    blocks = code.blocks(model, impl)
    assert [block.part for block in blocks] == list(code.PARTS)
    model_class = IMPLEMENTATIONS[model, impl]
    shown = "\n".join(block.source for block in blocks)
    step = inspect.getattr_static(model_class, "train_step", None) or model_class.train_step
    for method in (model_class.__init__, model_class.loss, step):  # what the trainer calls on the model
        assert code.source_of(method) in shown
    assert code.source_of(trainer.minibatches) in shown and code.source_of(trainer.evaluate) in shown
    section = code.SECTIONS[model, impl]
    assert {block.section for block in blocks if block.part in ("model", "loss", "step")} == {section}


@pytest.mark.parametrize("model, impl", PAIRS)
def test_each_source_read_from_its_file_is_what_inspect_gives(model, impl):
    """The text cut out of the module's file equals inspect.getsource of the object the name resolves to,
    decorators included (evaluate's @torch.no_grad())."""
    for block in code.blocks(model, impl):
        for source in block.objects:
            obj = source.resolve()
            assert code.source_of(source) == textwrap.dedent(inspect.getsource(obj)).rstrip() + "\n"
            assert code.source_of(obj) == code.source_of(source)


def test_the_trainer_calls_the_data_reader_and_the_evaluation_shown():
    """minibatches and evaluate are what the trainer's own loop calls, by those names."""
    loop = inspect.getsource(trainer)
    assert "in minibatches(" in loop and "= evaluate(" in loop


def test_reading_the_code_does_not_import_torch():
    """The web process highlights this code and never imports torch: listing and reading it must not."""
    program = (
        "import sys; from app.training import code; "
        "[code.pitfall_change(p, m, i) for m, i in code.SECTIONS for p in code.pitfalls_for(m, i)]; "
        "[b.source for m, i in code.SECTIONS for b in code.blocks(m, i)]; "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", program], check=True, cwd=code.ROOT, timeout=60)


def test_the_model_code_shown_is_the_model_that_trains():
    """The from-scratch step shown, run by hand on the model's own tensors, is the step the trainer takes."""
    spec = parse_spec({"model": "linreg", "seed": 3})
    model = build_model(spec, 2, 1, torch.Generator().manual_seed(3), torch.device("cpu"))
    X, y = torch.randn(10, 2), torch.randn(10, 1)
    w, b = model.w.detach().clone(), model.b.detach().clone()
    model.train_step(X, y)
    grad_w = X.T @ (X @ w + b - y) / len(X)
    assert torch.allclose(model.w.detach(), w - spec.lr * grad_w, atol=1e-6)


@pytest.mark.parametrize("model, impl", PAIRS)
def test_every_pitfall_shows_the_line_it_changes(model, impl):
    shown = "\n".join(block.source for block in code.blocks(model, impl))
    for pitfall in code.pitfalls_for(model, impl):
        change = code.pitfall_change(pitfall, model, impl)
        assert change.line in shown and change.before != change.after
        assert change.before and (change.after or pitfall == "skip_zero_grad")


def test_the_broadcast_bug_reads_as_the_book_warns():
    change = code.pitfall_change("broadcast_bug", "linreg", "scratch")
    assert change.before == "target = y.view(y_hat.shape)" and change.after == "target = y.view(-1)"
    naive = code.pitfall_change("naive_softmax", "softmax", "scratch")
    assert naive.after == "log_y_hat = torch.log(softmax(O))"
    assert code.pitfalls_for("softmax", "concise") == ["skip_zero_grad"]
