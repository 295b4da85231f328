"""The code a run executes, read from the training core itself: which functions train a (model, impl), the
book section each part follows, and the line each pitfall switch changes.

Every part is the source text of the very functions and methods the trainer calls, cut out of their
module's file (the same text `inspect.getsource` gives; tests/training/test_code.py checks each one), so
what a learner reads cannot drift from what trains. The file is read rather than imported: the web
process, which highlights this code, never imports torch. The notebook export runs it.
"""

import ast
import importlib
import textwrap
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the directory holding the `app` package

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


@dataclass(frozen=True)
class Source:
    """A function, class or method of the training core, named by its module and qualified name."""

    module: str  # "app.training.models.linreg"
    qualname: str  # "LinRegScratch.__init__"

    @property
    def path(self) -> Path:
        return ROOT.joinpath(*self.module.split(".")).with_suffix(".py")

    def resolve(self):
        """The object itself (imports its module, and so torch: not for the web process)."""
        obj = importlib.import_module(self.module)
        for name in self.qualname.split("."):
            obj = getattr(obj, name)
        return obj


def ref(name: str) -> Source:
    """'models.linreg:squared_loss' -> the Source of app.training.models.linreg.squared_loss."""
    module, qualname = name.split(":")
    return Source(f"app.training.{module}", qualname)


def refs(*names: str) -> tuple[Source, ...]:
    return tuple(ref(name) for name in names)


SCRATCH_OPTIMIZER = refs("models.common:sgd", "models.common:zero_grad", "models.common:l2_penalty")
CONCISE_OPTIMIZER = refs("models.common:decay_groups")
CONCISE_STEP = refs("models.common:ConciseModel.forward", "models.common:ConciseModel.train_step")
SCRATCH_CE = refs(
    "models.softmax:log_softmax", "models.softmax:cross_entropy", "models.softmax:softmax_cross_entropy"
)

# For each (model, impl): part -> the functions, classes and methods it consists of.
MODEL_PARTS = {
    ("linreg", "scratch"): {
        "model": refs(
            "models.common:init_layers",
            "models.linreg:linreg",
            "models.linreg:LinRegScratch.__init__",
            "models.linreg:LinRegScratch.forward",
        ),
        "loss": refs("models.linreg:squared_loss", "models.linreg:LinRegScratch.loss"),
        "optimizer": SCRATCH_OPTIMIZER,
        "step": refs("models.linreg:LinRegScratch.train_step"),
    },
    ("linreg", "concise"): {
        "model": refs("models.linreg:LinRegConcise.__init__"),
        "loss": refs("models.linreg:LinRegConcise.loss"),
        "optimizer": CONCISE_OPTIMIZER,
        "step": CONCISE_STEP,
    },
    ("softmax", "scratch"): {
        "model": refs(
            "models.common:init_layers",
            "models.softmax:SoftmaxScratch.__init__",
            "models.softmax:SoftmaxScratch.forward",
        ),
        "loss": (ref("models.softmax:softmax"), *SCRATCH_CE, ref("models.softmax:SoftmaxScratch.loss")),
        "optimizer": SCRATCH_OPTIMIZER,
        "step": refs("models.softmax:SoftmaxScratch.train_step"),
    },
    ("softmax", "concise"): {
        "model": refs("models.softmax:SoftmaxConcise.__init__"),
        "loss": refs("models.softmax:SoftmaxConcise.loss"),
        "optimizer": CONCISE_OPTIMIZER,
        "step": CONCISE_STEP,
    },
    ("mlp", "scratch"): {
        "model": refs(
            "models.common:init_layers",
            "models.mlp:relu",
            "models.mlp:leaky_relu",
            "models.mlp:layer_sizes",
            "models.mlp:MLPScratch.__init__",
            "models.mlp:MLPScratch.forward",
        ),
        "loss": (*SCRATCH_CE, ref("models.mlp:MLPScratch.loss")),
        "optimizer": SCRATCH_OPTIMIZER,
        "step": refs("models.mlp:MLPScratch.train_step"),
    },
    ("mlp", "concise"): {
        "model": refs("models.mlp:MLPConcise.__init__"),
        "loss": refs("models.mlp:MLPConcise.loss"),
        "optimizer": CONCISE_OPTIMIZER,
        "step": CONCISE_STEP,
    },
}
SHARED_PARTS = {"data": refs("trainer:minibatches"), "evaluate": refs("trainer:evaluate")}


@dataclass(frozen=True)
class Block:
    """One part of the code a run executes: `part` (a PARTS key), the book `section` it follows, and the
    objects (Sources) whose source it shows."""

    part: str
    section: str
    objects: tuple[Source, ...]

    @property
    def names(self) -> list[str]:
        return [obj.qualname for obj in self.objects]

    @property
    def source(self) -> str:
        return "\n\n".join(source_of(obj) for obj in self.objects)


def source_of(obj) -> str:
    """The object's source as written in its module, dedented (a method reads like a function). `obj` is
    a Source, or the object itself (then its Source is read: the same text)."""
    if not isinstance(obj, Source):
        obj = Source(obj.__module__, obj.__qualname__)
    return source_in_file(obj.path, obj.qualname)


@lru_cache(maxsize=256)
def source_in_file(path: Path, qualname: str) -> str:
    """The lines of the definition `qualname` in the file at `path`, decorators included, dedented."""
    text = path.read_text(encoding="utf-8")
    node = definition(ast.parse(text), qualname)
    first = min([node.lineno, *(decorator.lineno for decorator in node.decorator_list)])
    lines = text.splitlines()[first - 1 : node.end_lineno]
    return textwrap.dedent("\n".join(lines)).rstrip() + "\n"


def definition(tree: ast.Module, qualname: str):
    """The def or class statement `qualname` ('Class.method') names in a module's syntax tree."""
    node = tree
    for name in qualname.split("."):
        found = [
            child
            for child in node.body
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and child.name == name
        ]
        if not found:
            raise LookupError(f"no definition of {qualname!r}")
        node = found[-1]  # as at run time, the last definition of a name wins
    return node


def blocks(model: str, impl: str) -> list[Block]:
    """The code that trains (model, impl), part by part, in PARTS order."""
    parts = SHARED_PARTS | MODEL_PARTS[model, impl]
    section = SECTIONS[model, impl]
    data_section = "3.2"  # the minibatch reader (data_iter) every model uses
    evaluate_section = "3.2" if model == "linreg" else "3.6"
    sections = {"data": data_section, "evaluate": evaluate_section}
    return [Block(part, sections.get(part, section), parts[part]) for part in PARTS]


# pitfall -> (model, impl) -> (the function it changes, the name the switch has inside it)
CONCISE_STEP_SITE = (ref("models.common:ConciseModel.train_step"), "skip_zero_grad")
PITFALL_SITES = {
    "broadcast_bug": {
        ("linreg", "scratch"): (ref("models.linreg:squared_loss"), "broadcast_bug"),
        ("linreg", "concise"): (ref("models.linreg:LinRegConcise.loss"), "broadcast_bug"),
    },
    "naive_softmax": {
        ("softmax", "scratch"): (ref("models.softmax:softmax_cross_entropy"), "naive"),
        ("mlp", "scratch"): (ref("models.softmax:softmax_cross_entropy"), "naive"),
    },
    "skip_zero_grad": {
        ("linreg", "scratch"): (ref("models.linreg:LinRegScratch.train_step"), "skip_zero_grad"),
        ("softmax", "scratch"): (ref("models.softmax:SoftmaxScratch.train_step"), "skip_zero_grad"),
        ("mlp", "scratch"): (ref("models.mlp:MLPScratch.train_step"), "skip_zero_grad"),
        ("linreg", "concise"): CONCISE_STEP_SITE,
        ("softmax", "concise"): CONCISE_STEP_SITE,
        ("mlp", "concise"): CONCISE_STEP_SITE,
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


@lru_cache(maxsize=64)
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
            return PitfallChange(pitfall, function.qualname, line.strip(), before, after)
        if (
            isinstance(node, ast.If)
            and isinstance(node.test, ast.UnaryOp)
            and names_in(node.test) == {switch}
        ):
            kept = "\n".join(textwrap.dedent(ast.get_source_segment(source, stmt)) for stmt in node.body)
            return PitfallChange(pitfall, function.qualname, lines[node.lineno - 1].strip(), kept, "")
    raise LookupError(f"{function.qualname} has no line that reads {switch!r}")


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
