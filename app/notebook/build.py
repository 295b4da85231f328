"""A finished run as a Jupyter notebook that trains it again on its own.

`notebook_for(spec, result, lang)`: the settings first (how the run ended, when it did not end well),
then the data made or read the way the trainer does it, the code of the model part by part (the code
panel's text, app/notebook/source.py), the trainer's loop in the book's plain style with the same order
of random draws, a plot of the curves, and the playground's own last epoch to compare. The words are
app/notebook/texts.yaml's, in the run's language. Plain Python and nbformat: no torch, no web.
"""

import json
import textwrap
from functools import lru_cache
from pathlib import Path

import nbformat
import yaml
from nbformat import v4

from app.settings import FASHION_MNIST_MIRRORS

from .source import data_program, loop_program, model_program

TEXTS_FILE = Path(__file__).with_name("texts.yaml")
LANGUAGES = ("en", "zh")
TOY_SETS = ("blobs", "spiral", "circles", "xor")
NOT_WELL = ("cancelled", "interrupted", "diverged", "failed")
ADD_TO_CLASS = '''def add_to_class(Class):
    """Attach the function below to Class as a method (the book's d2l.add_to_class)."""

    def attach(method):
        setattr(Class, method.__name__, method)

    return attach
'''


@lru_cache
def texts() -> dict[str, dict[str, str]]:
    return yaml.safe_load(TEXTS_FILE.read_text(encoding="utf-8"))


class Words:
    """The catalog in one language."""

    def __init__(self, lang: str):
        if lang not in LANGUAGES:
            raise ValueError(f"lang: one of {', '.join(LANGUAGES)}, not {lang!r}")
        self.lang = lang

    def __call__(self, key: str, **values) -> str:
        return texts()[key][self.lang].format(**values)


def notebook_for(spec: dict, result: dict, lang: str = "en") -> nbformat.NotebookNode:
    """The notebook of a finished run. `spec`: the run's spec as a dict; `result`: what is known of how
    it went (result_from_events makes one): `id`, `status`, `message` (in `lang` where the caller can),
    `epochs` (its epoch events), `dataset` (the name "auto" stood for, if the spec says auto)."""
    words = Words(lang)
    model, impl = spec["model"], spec["impl"]
    program = model_program(model, impl)
    dataset = dataset_of(spec, result)
    kind = data_kind(dataset)
    title = words("title", model=words(f"model.{model}"), impl=words(f"impl.{impl}"), dataset=dataset)
    data_pieces = data_program(kind)
    helpers = [piece for piece in program["helpers"] if not defined_in(piece, data_pieces)]
    loop_pieces = [piece for piece in loop_program() if not defined_in(piece, [*data_pieces, *helpers])]
    everything = [*data_pieces, *program["classes"], *parts_pieces(program), *helpers, *loop_pieces]

    cells = [
        v4.new_code_cell(settings_cell(words, spec, result, title, program["spec_names"])),
        v4.new_markdown_cell(introduction(words, result, title, program)),
        v4.new_code_cell(imports_cell(everything, kind)),
        v4.new_markdown_cell(words(f"data.{kind}", dataset=dataset, share=share_of(spec))),
        v4.new_code_cell(joined(data_pieces)),
        v4.new_markdown_cell(words("data.load")),
        v4.new_code_cell(loading_cell(words, kind, spec)),
    ]
    for part in program["parts"]:
        cells.append(v4.new_markdown_cell(part_text(words, part, spec)))
        if part["part"] == "model":
            cells.append(v4.new_code_cell(joined(program["classes"])))
        cells.append(v4.new_code_cell(joined(part["pieces"])))
    if helpers:
        cells += [v4.new_markdown_cell(words("helpers")), v4.new_code_cell(joined(helpers))]
    cells += [v4.new_markdown_cell(words("train"))]
    if loop_pieces:
        cells.append(v4.new_code_cell(joined(loop_pieces)))
    classifier = model != "linreg"
    cells += [
        v4.new_code_cell(loop_cell(words, program["class_name"], classifier)),
        v4.new_markdown_cell(words("plot", accuracy=words("plot.accuracy") if classifier else "")),
        v4.new_code_cell(plot_cell(classifier)),
        v4.new_markdown_cell(words("compare") + ("\n\n" + words("compare.linreg") if not classifier else "")),
        v4.new_code_cell(compare_cell(words, result, classifier)),
    ]
    notebook = v4.new_notebook(cells=cells)
    notebook.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
        "d2l_playground": {"run": result.get("id", ""), "status": result.get("status", ""), "lang": lang},
    }
    return notebook


def notebook_text(spec: dict, result: dict, lang: str = "en") -> str:
    """The notebook as the .ipynb file's JSON text."""
    return nbformat.writes(notebook_for(spec, result, lang))


def result_from_events(run_id: str, events) -> dict:
    """What notebook_for needs to know of a run, from its events (dicts, or the trainer's Event models)."""
    result: dict = {"id": run_id, "status": "", "message": "", "epochs": [], "dataset": ""}
    for event in events:
        event = event if isinstance(event, dict) else event.model_dump()
        if event["type"] == "started":
            result["dataset"] = event.get("dataset", "")
        elif event["type"] == "epoch":
            result["epochs"].append(event)
        elif event["type"] == "finished":
            result["status"], result["message"] = event["status"], event.get("message", "")
    return result


def dataset_of(spec: dict, result: dict) -> str:
    """The dataset the run trained on: the spec's, or what "auto" stood for in the run."""
    if spec["model"] == "linreg":
        return "synthetic-linear"
    named = spec.get("dataset", "auto")
    return (result.get("dataset") or "digits") if named == "auto" else named


def data_kind(dataset: str) -> str:
    """Which of source.DATA_ROOTS makes or reads `dataset`."""
    if dataset == "synthetic-linear":
        return "synthetic"
    return "toy2d" if dataset in TOY_SETS else dataset


def share_of(spec: dict) -> str:
    return f"{spec.get('test_share', 0.25) * 100:g}"


def defined_in(piece: dict, pieces: list[dict]) -> bool:
    return any(set(piece["names"]) & set(other["names"]) for other in pieces)


def parts_pieces(program: dict) -> list[dict]:
    return [piece for part in program["parts"] for piece in part["pieces"]]


def joined(pieces: list[dict]) -> str:
    """Pieces of code as one cell, two blank lines apart as in a module."""
    return "\n\n\n".join(piece["code"].rstrip() for piece in pieces)


def comment(text: str) -> str:
    return "# " + text


def comment_lines(text: str) -> list[str]:
    """A longer text as comment lines of at most about 100 characters."""
    return [comment(line) for line in textwrap.wrap(text, 98, break_long_words=False)]


def literal(value) -> str:
    """A JSON value as Python source: strings in double quotes, True/False/None, lists inline."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(literal(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(key)}: {literal(item)}" for key, item in value.items()) + "}"
    return repr(value)


def dict_literal(name: str, values: dict) -> list[str]:
    """`name = {` one key a line `}`."""
    return [f"{name} = {{", *(f"    {literal(key)}: {literal(value)}," for key, value in values.items()), "}"]


def ending_of(words: Words, result: dict) -> str:
    status = result.get("status", "")
    if status not in ("done", *NOT_WELL):
        return words("ending.unknown")
    message = (result.get("message") or status).strip().rstrip(".。")  # the catalog ends the sentence
    return words(f"ending.{status}", message=message)


def settings_cell(words: Words, spec: dict, result: dict, title: str, spec_names: list[str]) -> str:
    """The first cell: which run, how it ended, its settings, and the names its type hints use."""
    ordered = {"model": spec["model"]} | spec  # the model first, then the spec's own order
    lines = [
        *comment_lines(words("settings.run", id=result.get("id", ""), title=title)),
        *comment_lines(ending_of(words, result)),
        *comment_lines(words("settings.spec")),
        "from types import SimpleNamespace",
        "",
        *dict_literal("spec", ordered),
        "settings = SimpleNamespace(**spec)  " + comment(words("settings.namespace")),
    ]
    lines += [f"{name} = SimpleNamespace  " + comment(words("settings.alias")) for name in spec_names]
    return "\n".join(lines)


def introduction(words: Words, result: dict, title: str, program: dict) -> str:
    paragraphs = [f"# {title}"]
    if result.get("status") in NOT_WELL:
        paragraphs.append(words("intro.warning", ending=ending_of(words, result)))
    paragraphs.append(words("intro.what", id=result.get("id", ""), title=title, section=program["section"]))
    paragraphs.append(words("intro.code"))
    if program["spec_names"]:
        paragraphs.append(words("intro.hints", names=", ".join(f"`{n}`" for n in program["spec_names"])))
    paragraphs.append(words("intro.libraries"))
    return "\n\n".join(paragraphs)


def imports_cell(pieces: list[dict], kind: str) -> str:
    """Every import line the pieces need, merged: the standard library first, then the libraries."""
    lines = {line for piece in pieces for line in piece["imports"]}
    lines |= {"import torch", "import matplotlib.pyplot as plt"}
    if kind == "fashion-mnist":
        lines.add("from pathlib import Path")
    plain = sorted(line for line in lines if line.startswith("import "))
    merged: dict[str, list[str]] = {}
    for line in sorted(line for line in lines if line.startswith("from ")):
        module, _, name = line.removeprefix("from ").partition(" import ")
        merged.setdefault(module, []).append(name)
    froms = [f"from {module} import {', '.join(names)}" for module, names in merged.items()]
    library = ("torch", "numpy", "sklearn", "matplotlib")
    first = [line for line in plain + froms if line.split()[1].split(".")[0] not in library]
    then = [line for line in plain + froms if line.split()[1].split(".")[0] in library]
    device = 'device = torch.device("cpu")'
    return "\n".join([*first, "", *then, "", device, "", "", ADD_TO_CLASS.rstrip()])


def loading_cell(words: Words, kind: str, spec: dict) -> str:
    """The call that makes or reads the data, with the run's settings; then onto the device."""
    if kind == "synthetic":
        lines = [
            "data = synthetic_linear(settings.true_w, settings.true_b, settings.n_examples, "
            "settings.noise_std, settings.seed)"
        ]
    elif kind == "toy2d":
        lines = [
            "data = toy2d(settings.dataset, settings.n_examples, settings.noise, data_seed_of(settings), "
            "settings.test_share)"
        ]
    elif kind == "digits":
        lines = ["data = digits()"]
    else:
        lines = [
            'folder = Path("data") / "fashion-mnist"  ' + comment(words("data.folder")),
            "mirrors = [",
            *(f"    {literal(mirror)}," for mirror in FASHION_MNIST_MIRRORS),
            "]",
            "for name, md5 in FILES.items():",
            "    fetch_file(name, md5, mirrors, folder, timeout=60)",
            'X_train, y_train = _read_split(folder, "train")',
            'X_test, y_test = _read_split(folder, "test")',
            'data = Dataset("fashion-mnist", "classification", X_train, y_train, X_test, y_test, '
            "list(CLASS_NAMES), IMAGE_SHAPE)",
        ]
    lines += [
        "data = data.to(device)",
        'print(f"{data.name}: {len(data.X_train)} training and {len(data.X_test)} test examples, "',
        '      f"{data.num_inputs} inputs, {data.num_outputs} outputs")',
    ]
    return "\n".join(lines)


def part_text(words: Words, part: dict, spec: dict) -> str:
    """A part's heading (with its book section) and what it is."""
    name, impl, model = part["part"], spec["impl"], spec["model"]
    about = {
        "data": [words("about.data")],
        "model": [
            words(f"about.model.{model}", units=spec.get("hidden_units"), activation=spec.get("activation")),
            words(f"about.model.{impl}"),
        ],
        "loss": [words("about.loss.linreg" if model == "linreg" else f"about.loss.{impl}")],
        "optimizer": [words(f"about.optimizer.{impl}")],
        "step": [words("about.step")],
        "evaluate": [words("about.evaluate")],
    }[name]
    heading = words("heading", title=words(f"part.{name}"), section=part["section"])
    return "\n".join([heading, *about])


def loop_cell(words: Words, class_name: str, classifier: bool) -> str:
    """The trainer's loop in the book's plain style: the same calls on the generator, in the same order."""
    outputs = "data.num_inputs, data.num_outputs" if classifier else "data.num_inputs"
    lines = [
        "generator = seed_everything(settings.seed)  " + comment(words("train.seed")),
        f"model = {class_name}(settings, {outputs}, generator, device)",
        "initial_loss, initial_acc = evaluate(model, data.X_test, data.y_test)",
        'history = {"epoch": [], "train_loss": [], "test_loss": []'
        + (', "train_acc": [], "test_acc": []}' if classifier else "}"),
        "for epoch in range(1, settings.epochs + 1):",
        "    loss_sum, correct = 0.0, 0",
        "    for X, y in minibatches(data.X_train, data.y_train, settings.batch_size, generator):",
        "        loss, scores = model.train_step(X, y)",
        "        loss_sum += float(loss) * len(X)",
    ]
    if classifier:
        lines.append("        correct += int((scores.argmax(dim=1) == y).sum())")
    lines += [
        "    test_loss, test_acc = evaluate(model, data.X_test, data.y_test)",
        "    train_loss = loss_sum / len(data.X_train)",
        '    history["epoch"].append(epoch)',
        '    history["train_loss"].append(train_loss)',
        '    history["test_loss"].append(test_loss)',
    ]
    if classifier:
        lines += [
            "    train_acc = correct / len(data.X_train)",
            '    history["train_acc"].append(train_acc)',
            '    history["test_acc"].append(test_acc)',
            '    print(f"epoch {epoch}: train loss {train_loss:.4f}, train acc {train_acc:.4f}, "',
            '          f"test loss {test_loss:.4f}, test acc {test_acc:.4f}")',
        ]
    else:
        lines.append('    print(f"epoch {epoch}: train loss {train_loss:.6f}, test loss {test_loss:.6f}")')
    lines += [
        "    if diverged(train_loss, initial_loss) or diverged(test_loss, initial_loss):",
        f'        print("{words("train.diverged")}")',
        "        break",
    ]
    return "\n".join(lines)


def plot_cell(classifier: bool) -> str:
    if not classifier:
        return "\n".join(
            [
                "fig, ax = plt.subplots(figsize=(5, 3.5))",
                'ax.plot(history["epoch"], history["train_loss"], "o-", label="train loss")',
                'ax.plot(history["epoch"], history["test_loss"], "o-", label="test loss")',
                'ax.set_xlabel("epoch")',
                'ax.set_yscale("log")',
                "ax.legend()",
                "plt.show()",
            ]
        )
    return "\n".join(
        [
            "fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.5))",
            'left.plot(history["epoch"], history["train_loss"], "o-", label="train loss")',
            'left.plot(history["epoch"], history["test_loss"], "o-", label="test loss")',
            'right.plot(history["epoch"], history["train_acc"], "o-", label="train acc")',
            'right.plot(history["epoch"], history["test_acc"], "o-", label="test acc")',
            "for ax in (left, right):",
            '    ax.set_xlabel("epoch")',
            "    ax.legend()",
            "plt.show()",
        ]
    )


def compare_cell(words: Words, result: dict, classifier: bool) -> str:
    """The run's last epoch as the playground recorded it, and this notebook's."""
    keys = ("train_loss", "test_loss", "train_acc", "test_acc") if classifier else ("train_loss", "test_loss")
    epochs = result.get("epochs") or []
    lines = []
    if epochs:
        last = epochs[-1]
        recorded = {"epoch": last.get("epoch")} | {key: last.get(key) for key in keys}
        lines += [
            *dict_literal("playground", recorded),
            "notebook = {name: values[-1] for name, values in history.items()}",
            "for name, value in playground.items():",
            '    print(f"{name:>10}  notebook {notebook[name]!r:<24} playground {value!r}")',
        ]
    else:
        lines.append(f'print("{words("compare.none")}")')
    if not classifier:
        lines += [
            "",
            'w, b = model.weights()["w"], model.weights()["b"]',
            'print(f"error in estimating w: {torch.tensor(settings.true_w) - w.reshape(-1)}")',
            'print(f"error in estimating b: {settings.true_b - b.item()}")',
        ]
    return "\n".join(lines)
