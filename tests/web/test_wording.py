"""How runs read in words: compare legends name exactly the settings that differ, in the visitor's
language, and numbers read as written."""

from dataclasses import dataclass, field

import pytest

from app.training.specs import parse_spec
from app.web.forms import plain_number
from app.web.wording import legend_labels, summary


class Visitor:
    """What the wording reads of a request: the language it asks for."""

    def __init__(self, lang: str):
        self.query_params, self.cookies, self.headers = {"lang": lang}, {}, {}


@dataclass
class Run:
    id: str
    spec: dict
    status: str = "done"
    epochs: list = field(default_factory=list)


def runs(*changes: dict) -> list[Run]:
    base = {"model": "mlp", "dataset": "spiral", "lr": 0.1, "batch_size": 32, "init_std": 0.1}
    return [Run(f"run{i}", parse_spec(base | change).model_dump()) for i, change in enumerate(changes)]


@pytest.mark.parametrize(
    ("lang", "changes", "labels"),
    [
        (
            "en",
            [{"activation": "relu"}, {"activation": "sigmoid"}],
            ["activation relu", "activation sigmoid"],
        ),
        ("zh", [{"activation": "relu"}, {"activation": "sigmoid"}], ["激活函数 relu", "激活函数 sigmoid"]),
        ("en", [{"n_examples": 300}, {"n_examples": 600}], ["examples 300", "examples 600"]),
        (
            "en",
            [{"lr": 0.1, "noise": 0.5}, {"lr": 1.0, "noise": 0.1}],
            ["lr 0.1, noise 0.5", "lr 1, noise 0.1"],
        ),
        ("en", [{"impl": "scratch"}, {"impl": "concise"}], ["from scratch", "concise"]),
        ("en", [{}, {}], ["run run0", "run run1"]),  # nothing differs: the ids tell them apart
    ],
)
def test_a_legend_names_exactly_the_settings_that_differ(lang, changes, labels):
    assert legend_labels(Visitor(lang), runs(*changes)) == labels


def test_a_summary_reads_in_the_visitors_language():
    spec = parse_spec({"model": "mlp", "dataset": "spiral", "hidden_layers": 2}).model_dump()
    assert summary(Visitor("en"), spec)[:4] == [
        "Multilayer perceptron",
        "spiral",
        "hidden 256x2",
        "activation relu",
    ]
    assert summary(Visitor("zh"), spec)[:4] == ["多层感知机", "spiral", "隐藏单元 256x2", "激活函数 relu"]


@pytest.mark.parametrize(
    ("value", "text"),
    [(2**31 - 1, "2147483647"), (8192.0, "8192"), (0.1, "0.1"), (1e-5, "1e-05"), (True, "True")],
)
def test_numbers_read_as_written(value, text):
    assert plain_number(value) == text
