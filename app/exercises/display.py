"""How a live demo's result reads on the page: numbers rounded, rows labelled, long arrays folded away.

A demo (app/training/demos.py) answers with JSON-ready data at float32 precision. People read 4
significant digits, and float noise such as -4.440892e-16 (a linspace that misses 0 by a rounding) is
0 to them, so `tidy` rounds every float and clamps |v| < 1e-12 to 0 before anything is shown or drawn.
`rows` turns a result into table rows: a row's label is a catalog key (demo_row.<key>, in both
languages) where the result's key is a word, or code (the key itself, or the expression it stands for).

The web process imports this module, so it must never import torch.
"""

import math
from dataclasses import dataclass, field
from typing import Any

SIGNIFICANT_DIGITS = 4
NOISE = 1e-12  # |v| below this is float noise, shown as 0
FOLD_OVER = 12  # a value with more numbers than this is folded into a closed <details>

# Result keys that are words: their labels are catalog entries "demo_row.<key>".
WORD_LABELS = frozenset(
    {
        "shape_A",
        "shape_B",
        "ok",
        "shape",
        "result",
        "error",
        "code",
        "seeded",
        "seeded_equal",
        "unseeded",
        "unseeded_equal",
        "function",
        "single_grad",
        "without_zero_grad",
        "with_zero_grad",
        "shapes",
        "loss",
        "values",
        "per_example",
        "mean",
        "mean_without_half",
        "sum",
        "accuracy",
        "shift_max_difference",
        "scale_max_difference",
        "naive_finite",
        "check",
        "max_difference",
        "starts",
        "sizes",
        "batches",
        "last_batch_short",
    }
)
# Result keys that stand for an expression: the label is the code itself.
CODE_LABELS = {
    "mm": "torch.mm(A, B)",
    "mul": "torch.mul(A, B)",
    "gathered": "y_hat.gather(1, y.view(-1, 1))",
    "argmax": "y_hat.argmax(dim=1)",
    "correct": "y_hat.argmax(dim=1) == y",
    "naive": "naive(x) = exp(x) / exp(x).sum()",
    "stable": "stable(x) = exp(x - x.max()) / exp(x - x.max()).sum()",
}
SUMMARY_KEYS = {"shape", "dtype", "excerpt"}  # a tensor too big to show whole (demos._shown)


def tidy(value: Any) -> Any:
    """The value with every fractional float rounded to 4 significant digits and float noise made 0."""
    if isinstance(value, dict):
        return {key: tidy(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [tidy(item) for item in value]
    if not isinstance(value, float) or not math.isfinite(value):
        return value
    if abs(value) < NOISE:
        return 0.0
    if value.is_integer():  # whole numbers stay whole: 65546000.0, not 65550000
        return value + 0.0
    decimals = SIGNIFICANT_DIGITS - 1 - math.floor(math.log10(abs(value)))
    return round(value, decimals) + 0.0  # + 0.0 turns -0.0 into 0.0


def number_text(value: float | int) -> str:
    """14.0 -> "14", 0.32805 -> "0.3281", 4.7684e-07 -> "4.768e-07": what a person would write."""
    if isinstance(value, bool) or not isinstance(value, float):
        return str(value)
    value = tidy(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if 1e-4 <= abs(value) < 1e15:
        return repr(value)
    return f"{value:.{SIGNIFICANT_DIGITS}g}"


def value_text(value: Any) -> str:
    """A value as Python would print it: [0.3281, 0.00405], True, inf, the code's own text."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int | float):
        return number_text(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(value_text(item) for item in value) + "]"
    return str(value)


def count_numbers(value: Any) -> int:
    if isinstance(value, list | tuple):
        return sum(count_numbers(item) for item in value)
    return 1


def is_summary(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == SUMMARY_KEYS


@dataclass
class Row:
    """One line of a demo's table: a word label (catalog key) or a code label, and a value that is
    text (`text`), a summarized tensor (`summary`) or rows of its own (`rows`)."""

    key: str
    label_key: str | None = None
    code_label: str | None = None
    text: str | None = None
    numbers: int = 0
    summary: dict | None = None
    rows: list["Row"] = field(default_factory=list)

    @property
    def folded(self) -> bool:
        return self.numbers > FOLD_OVER


def row(key: str, value: Any) -> Row:
    labelled = (
        Row(key, label_key=f"demo_row.{key}")
        if key in WORD_LABELS
        else Row(key, code_label=CODE_LABELS.get(key, key))
    )
    if is_summary(value):
        labelled.summary = {
            "shape": " x ".join(map(str, value["shape"])),
            "dtype": value["dtype"],
            "excerpt": value["excerpt"],
        }
    elif isinstance(value, dict):
        labelled.rows = rows(value)
    else:
        labelled.text, labelled.numbers = value_text(value), count_numbers(value)
    return labelled


def rows(result: dict, leave_out: tuple[str, ...] = ()) -> list[Row]:
    """The result's rows in its own order, values tidied, without the keys in `leave_out`."""
    return [row(key, tidy(value)) for key, value in result.items() if key not in leave_out]
