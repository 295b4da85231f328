"""The code a run executes, read from the training core itself: which functions train a (model, impl), the
book section each part follows, and the line each pitfall switch changes.

Everything here is `inspect.getsource` of the objects the trainer really calls, so what a learner reads
cannot drift from what trains. The web layer highlights it; the notebook export runs it.
"""

import ast
import inspect
import textwrap
from dataclasses import dataclass

from . import trainer
from .models import common, linreg, mlp, softmax

# The book's sections (d2l, PyTorch edition, zh v2 numbering) each implementation follows.
SECTIONS = {
    ("linreg", "scratch"): "3.2",
    ("linreg", "concise"): "3.3",
    ("softmax", "scratch"): "3.6",
    ("softmax", "concise"): "3.7",
    ("mlp", "scratch"): "4.2",
    ("mlp", "concise"): "4.3",
}
PARTS = ("data", "model", "loss", "optimizer", "step", "evaluate")  # the order the panel shows them in

SCRATCH_OPTIMIZER = (common.sgd, common.zero_grad, common.l2_penalty)
CONCISE_OPTIMIZER = (common.decay_groups,)
CONCISE_STEP = (common.ConciseModel.forward, common.ConciseModel.train_step)

# For each (model, impl): part -> the functions, classes and methods it consists of.
MODEL_PARTS = {
    ("linreg", "scratch"): {
        "model": (
            common.init_layers,
            linreg.linreg,
            linreg.LinRegScratch.__init__,
            linreg.LinRegScratch.forward,
        ),
        "loss": (linreg.squared_loss, linreg.LinRegScratch.loss),
        "optimizer": SCRATCH_OPTIMIZER,
        "step": (linreg.LinRegScratch.train_step,),
    },
    ("linreg", "concise"): {
        "model": (linreg.LinRegConcise.__init__,),
        "loss": (linreg.LinRegConcise.loss,),
        "optimizer": CONCISE_OPTIMIZER,
        "step": CONCISE_STEP,
    },
    ("softmax", "scratch"): {
        "model": (common.init_layers, softmax.SoftmaxScratch.__init__, softmax.SoftmaxScratch.forward),
        "loss": (
            softmax.softmax,
            softmax.log_softmax,
            softmax.cross_entropy,
            softmax.softmax_cross_entropy,
            softmax.SoftmaxScratch.loss,
        ),
        "optimizer": SCRATCH_OPTIMIZER,
        "step": (softmax.SoftmaxScratch.train_step,),
    },
    ("softmax", "concise"): {
        "model": (softmax.SoftmaxConcise.__init__,),
        "loss": (softmax.SoftmaxConcise.loss,),
        "optimizer": CONCISE_OPTIMIZER,
        "step": CONCISE_STEP,
    },
    ("mlp", "scratch"): {
        "model": (
            common.init_layers,
            mlp.relu,
            mlp.leaky_relu,
            mlp.layer_sizes,
            mlp.MLPScratch.__init__,
            mlp.MLPScratch.forward,
        ),
        "loss": (
            softmax.log_softmax,
            softmax.cross_entropy,
            softmax.softmax_cross_entropy,
            mlp.MLPScratch.loss,
        ),
        "optimizer": SCRATCH_OPTIMIZER,
        "step": (mlp.MLPScratch.train_step,),
    },
    ("mlp", "concise"): {
        "model": (mlp.MLPConcise.__init__,),
        "loss": (mlp.MLPConcise.loss,),
        "optimizer": CONCISE_OPTIMIZER,
        "step": CONCISE_STEP,
    },
}
SHARED_PARTS = {"data": (trainer.minibatches,), "evaluate": (trainer.evaluate,)}


@dataclass(frozen=True)
class Block:
    """One part of the code a run executes: `part` (a PARTS key), the book `section` it follows, and the
    objects whose source it shows."""

    part: str
    section: str
    objects: tuple

    @property
    def names(self) -> list[str]:
        return [obj.__qualname__ for obj in self.objects]

    @property
    def source(self) -> str:
        return "\n\n".join(source_of(obj) for obj in self.objects)


def source_of(obj) -> str:
    """The object's source as written in its module, dedented (a method reads like a function)."""
    return textwrap.dedent(inspect.getsource(obj)).rstrip() + "\n"


def blocks(model: str, impl: str) -> list[Block]:
    """The code that trains (model, impl), part by part, in PARTS order."""
    parts = SHARED_PARTS | MODEL_PARTS[model, impl]
    section = SECTIONS[model, impl]
    data_section = "3.2"  # the minibatch reader (data_iter) every model uses
    evaluate_section = "3.2" if model == "linreg" else "3.6"
    sections = {"data": data_section, "evaluate": evaluate_section}
    return [Block(part, sections.get(part, section), parts[part]) for part in PARTS]


# pitfall -> (model, impl) -> (the function it changes, the name the switch has inside it)
PITFALL_SITES = {
    "broadcast_bug": {
        ("linreg", "scratch"): (linreg.squared_loss, "broadcast_bug"),
        ("linreg", "concise"): (linreg.LinRegConcise.loss, "broadcast_bug"),
    },
    "naive_softmax": {
        ("softmax", "scratch"): (softmax.softmax_cross_entropy, "naive"),
        ("mlp", "scratch"): (softmax.softmax_cross_entropy, "naive"),
    },
    "skip_zero_grad": {
        ("linreg", "scratch"): (linreg.LinRegScratch.train_step, "skip_zero_grad"),
        ("softmax", "scratch"): (softmax.SoftmaxScratch.train_step, "skip_zero_grad"),
        ("mlp", "scratch"): (mlp.MLPScratch.train_step, "skip_zero_grad"),
        ("linreg", "concise"): (common.ConciseModel.train_step, "skip_zero_grad"),
        ("softmax", "concise"): (common.ConciseModel.train_step, "skip_zero_grad"),
        ("mlp", "concise"): (common.ConciseModel.train_step, "skip_zero_grad"),
    },
}


@dataclass(frozen=True)
class PitfallChange:
    """What a pitfall switch changes: in `function`, the `line` holding the switch; the code as it runs
    with the switch off (`before`) and on (`after`, empty where the switch removes the line)."""

    pitfall: str
    function: str
    line: str
    before: str
    after: str


def pitfalls_for(model: str, impl: str) -> list[str]:
    """The pitfall switches that change this implementation's code."""
    return [name for name, sites in PITFALL_SITES.items() if (model, impl) in sites]


def pitfall_change(pitfall: str, model: str, impl: str) -> PitfallChange:
    """The line `pitfall` changes in (model, impl)'s code, read from the source: a conditional
    expression `on if switch else off`, or a statement `if not switch: ...` that the switch skips."""
    function, switch = PITFALL_SITES[pitfall][model, impl]
    source = source_of(function)
    lines = source.splitlines()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.IfExp) and names_in(node.test) == {switch}:
            line = lines[node.lineno - 1]
            on, off = (ast.get_source_segment(source, branch) for branch in (node.body, node.orelse))
            whole = ast.get_source_segment(source, node)
            before, after = line.replace(whole, off).strip(), line.replace(whole, on).strip()
            return PitfallChange(pitfall, function.__qualname__, line.strip(), before, after)
        if (
            isinstance(node, ast.If)
            and isinstance(node.test, ast.UnaryOp)
            and names_in(node.test) == {switch}
        ):
            kept = "\n".join(textwrap.dedent(ast.get_source_segment(source, stmt)) for stmt in node.body)
            return PitfallChange(pitfall, function.__qualname__, lines[node.lineno - 1].strip(), kept, "")
    raise LookupError(f"{function.__qualname__} has no line that reads {switch!r}")


def names_in(node: ast.AST) -> set[str]:
    """The variable and attribute names an expression reads (`self.spec.naive` -> {"naive"}), less
    the objects they hang on."""
    found = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Attribute):
            found.add(child.attr)
        elif isinstance(child, ast.Name) and child.id not in ("self",):
            found.add(child.id)
    return found - {"spec"}
