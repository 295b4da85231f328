"""The code a notebook carries, cut out of the training core's files (read, never imported: no torch).

For each (model, impl) the parts app.training.code lists, exactly as the code panel shows them; for each
kind of data the functions the trainer loads it with; for the loop the trainer's seed_everything and
its divergence rule. Around them, whatever that code calls and the notebook has not defined yet, found by
name in the module each piece comes from (ast): the training core's functions, classes and constants as
their source, the libraries as their import lines. Nothing is listed by hand, so nothing can drift.

A piece of code is a dict: `code` (its text), `names` (what it defines at the top level), `imports`
(the import lines it needs). A method becomes a function under `@add_to_class(Class)` (the book attaches
methods to a class cell by cell the same way, d2l 3.2), so each part keeps exactly the panel's text.
"""

import ast
import builtins
import importlib.util
import sys
import textwrap
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from app.training.code import ROOT, SECTIONS, Block, Source, blocks, source_in_file

THIRD_PARTY = {"torch", "numpy", "sklearn", "matplotlib"}  # what a notebook may import besides the stdlib
BUILTINS = set(dir(builtins))
SPECS_MODULE = "app.training.specs"  # type hints naming its classes are the notebook's settings
DATA = "app.training.data"
# What the trainer loads each kind of data with (app/training/data/__init__.py: load_dataset).
DATA_ROOTS = {
    "synthetic": [(f"{DATA}.synthetic", "synthetic_linear")],
    "toy2d": [(f"{DATA}.toy2d", "toy2d"), (f"{DATA}.toy2d", "data_seed_of")],
    "digits": [(f"{DATA}.digits", "digits")],
    "fashion-mnist": [
        (f"{DATA}.dataset", "Dataset"),
        (f"{DATA}.download", "fetch_file"),
        (f"{DATA}.fashion_mnist", "FILES"),
        (f"{DATA}.fashion_mnist", "CLASS_NAMES"),
        (f"{DATA}.fashion_mnist", "IMAGE_SHAPE"),
        (f"{DATA}.fashion_mnist", "_read_split"),
    ],
}
LOOP_ROOTS = [("app.training.trainer", "seed_everything"), ("app.training.trainer", "diverged")]


class Unresolved(LookupError):
    """A name the code uses that is neither a library a notebook may import nor the training core's."""


@lru_cache(maxsize=16)
def model_program(model: str, impl: str) -> dict:
    """The parts of (model, impl) as the code panel lists them; the classes their methods belong to,
    less those methods (`classes`, each base first); and the helpers all of it calls (`helpers`)."""
    parts = blocks(model, impl)
    owners = owner_classes([obj for block in parts for obj in block.objects])
    closure = Closure(defined=[owner.qualname for owner in owners])
    classes = [closure.piece(skeleton(owner, parts), owner.module, [owner.qualname]) for owner in owners]
    shown = [
        {
            "part": block.part,
            "section": block.section,
            "pieces": [closure.shown(obj) for obj in block.objects],
        }
        for block in parts
    ]
    for piece in [*classes, *(piece for part in shown for piece in part["pieces"])]:
        closure.need(piece)
    model_part = next(block for block in parts if block.part == "model")
    return {
        "section": SECTIONS[model, impl],
        "class_name": next(owner_of(obj) for obj in model_part.objects if obj.qualname.endswith(".__init__")),
        "classes": classes,
        "parts": shown,
        "helpers": closure.pieces,
        "spec_names": sorted(closure.spec_names),
    }


@lru_cache(maxsize=8)
def data_program(kind: str) -> list[dict]:
    """The functions (and what they need) that make or read a kind of data: DATA_ROOTS's keys."""
    return Closure().add_roots(DATA_ROOTS[kind]).pieces


@lru_cache(maxsize=1)
def loop_program() -> list[dict]:
    """The trainer's seed_everything (the generator that draws the weights and the batches) and the
    rule by which it calls a run diverged."""
    return Closure().add_roots(LOOP_ROOTS).pieces


def owner_of(obj: Source) -> str | None:
    """The class a method belongs to, None for a plain function."""
    head, _, rest = obj.qualname.partition(".")
    return head if rest else None


def owner_classes(objects: list[Source]) -> list[Source]:
    """The classes whose methods are among `objects`, each base before the classes built on it."""
    owners = {Source(obj.module, owner_of(obj)) for obj in objects if owner_of(obj)}
    ordered: list[Source] = []
    while len(ordered) < len(owners):
        for owner in sorted(owners - set(ordered), key=lambda source: source.qualname):
            bases = set(base_names(owner))
            if not any(other.qualname in bases for other in owners - set(ordered) - {owner}):
                ordered.append(owner)
                break
        else:
            raise Unresolved("the classes' bases form a cycle")
    return ordered


def base_names(cls: Source) -> list[str]:
    node = ast.parse(text_of(cls)).body[0]
    return [base.id for base in node.bases if isinstance(base, ast.Name)]


def skeleton(cls: Source, parts: list[Block]) -> str:
    """The class's source without the methods the parts show (they are added to it part by part)."""
    shown = {
        obj.qualname.split(".")[1]
        for block in parts
        for obj in block.objects
        if owner_of(obj) == cls.qualname
    }
    source = text_of(cls)
    lines = source.splitlines()
    body = ast.parse(source).body[0].body
    dropped: set[int] = set()
    for item in body:
        if isinstance(item, ast.FunctionDef) and item.name in shown:
            start = min([item.lineno, *(decorator.lineno for decorator in item.decorator_list)])
            dropped.update(range(start - 1, item.end_lineno))
            if item.end_lineno < len(lines) and not lines[item.end_lineno].strip():
                dropped.add(item.end_lineno)  # the blank line after it
    kept = [line for number, line in enumerate(lines) if number not in dropped]
    if all(isinstance(item, ast.FunctionDef) and item.name in shown for item in body):
        kept.append("    pass")
    return "\n".join(kept).rstrip() + "\n"


class Closure:
    """Pieces of code and everything they call that is not defined yet, each after what it needs."""

    def __init__(self, defined: Iterable[str] = ()):
        self.defined = set(defined)
        self.pieces: list[dict] = []
        self.spec_names: set[str] = set()
        self._seen: set[tuple[str, str]] = set()

    def add_roots(self, roots: list[tuple[str, str]]) -> "Closure":
        for module, name in roots:
            self.resolve(module, name)
        return self

    @staticmethod
    def piece(code: str, module: str, names: list[str]) -> dict:
        return {"code": code, "names": names, "imports": [], "module": module}

    def shown(self, obj: Source) -> dict:
        """A function the panel shows, or one of its methods as a function added to the class."""
        if owner_of(obj):
            return self.piece(f"@add_to_class({owner_of(obj)})\n{text_of(obj)}", obj.module, [])
        self.defined.add(obj.qualname)
        self._seen.add((obj.module, obj.qualname))
        return self.piece(text_of(obj), obj.module, [obj.qualname])

    def need(self, piece: dict) -> None:
        """Resolve what `piece` uses: its import lines go on it, the training core's code into pieces."""
        for name in sorted(free_names(piece["code"]) - set(piece["names"])):
            if name in self.defined:
                continue
            lines = self.resolve(piece["module"], name)
            for line in lines.splitlines() if lines else []:
                if line not in piece["imports"]:
                    piece["imports"].append(line)

    def resolve(self, module: str, name: str) -> str | None:
        """The import lines of a library name; for the training core's names, add their pieces (what
        they need first) and return None."""
        found = bindings(module).get(name)
        if found is None:
            raise Unresolved(f"{module} has no top-level {name!r} a notebook could carry")
        kind, value = found
        if kind == "import":
            library, line = value
            if library.split(".")[0] not in THIRD_PARTY | set(sys.stdlib_module_names):
                raise Unresolved(f"{module}.{name} needs {library}, which a notebook may not import")
            return line
        if kind == "from_app":
            origin, original = value
            if origin == SPECS_MODULE:  # a type hint naming a spec class: here, the settings
                self.spec_names.add(name)
                self.defined.add(name)
                return None
            if original != name:
                raise Unresolved(f"{module} imports {original} as {name}, which a notebook cannot follow")
            return self.resolve(origin, name)
        if (module, name) in self._seen:
            return None
        if name in self.defined:
            raise Unresolved(f"{module}.{name} would shadow another {name!r} in the notebook")
        self._seen.add((module, name))
        self.defined.add(name)
        piece = self.piece(value if kind == "assign" else text_of(Source(module, name)), module, [name])
        self.need(piece)  # what it needs comes first, then the piece itself
        self.pieces.append(piece)
        return None


def module_path(module: str) -> Path:
    """The file of a module of the playground: `a/b.py`, or `a/b/__init__.py` for a package."""
    path = ROOT.joinpath(*module.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


@lru_cache(maxsize=64)
def bindings(module: str) -> dict[str, tuple[str, object]]:
    """What each top-level name of a module of the playground is: ("import", (library, its import
    line)), ("from_app", (module, name)) for something imported from the playground, ("object", None)
    for a def or class, ("assign", its statement with the comment lines above it) for a constant."""
    path = module_path(module)
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: dict[str, tuple[str, object]] = {}
    for node in ast.parse(text).body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                line = f"import {alias.name}" + (f" as {alias.asname}" if alias.asname else "")
                bound = alias.asname or alias.name.split(".")[0]
                earlier = found[bound][1][1] if found.get(bound, ("",))[0] == "import" else ""
                found[bound] = (
                    "import",
                    (alias.name, f"{earlier}\n{line}".strip()),
                )  # urllib.error, .request
        elif isinstance(node, ast.ImportFrom):
            origin = importlib.util.resolve_name("." * node.level + (node.module or ""), package)
            for alias in node.names:
                bound = alias.asname or alias.name
                if origin.split(".")[0] == "app":
                    found[bound] = ("from_app", (origin, alias.name))
                else:
                    line = f"from {origin} import {alias.name}" + (f" as {bound}" if alias.asname else "")
                    found[bound] = ("import", (origin, line))
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            found[node.name] = ("object", None)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            text_of = statement_with_comments(lines, node)
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        found[name.id] = ("assign", text_of)
    return found


def statement_with_comments(lines: list[str], node: ast.stmt) -> str:
    """A top-level statement's whole lines (a trailing comment too), and the comment lines just above."""
    start = node.lineno - 1
    while start > 0 and lines[start - 1].startswith("#"):
        start -= 1
    return textwrap.dedent("\n".join(lines[start : node.end_lineno])).rstrip() + "\n"


def free_names(code: str) -> set[str]:
    """The names `code` reads but does not bind itself and that are not builtins: what it needs from
    around it (an approximation of Python's scopes that is exact enough for this code)."""
    read, bound = set(), set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.alias):
            bound.add(node.asname or node.name.split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return read - bound - BUILTINS - {"add_to_class"}


def text_of(obj: Source) -> str:
    """The text of a definition in a module of the playground, as app.training.code.source_of reads it
    (and for a package's __init__.py too)."""
    return source_in_file(module_path(obj.module), obj.qualname)
