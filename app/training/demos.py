"""Small live tensor demos for the exercise pages, computed by real torch on inputs a learner edits.

The web process never imports torch: `run_demo` runs inside the demo worker process
(app/runs/demo_process.py) and returns JSON-ready data (lists, floats, strings, shapes).
Inputs are parsed strictly, never evaluated; bad input raises DemoInputError saying what to change.

Accepted input formats:
- a number: a JSON number or a string such as "3", "-0.5", "1e-3" (no NaN, no infinity);
- an integer: a JSON integer (or an integral float) or a string of digits, within the demo's bounds;
- a vector: text with entries separated by spaces, commas, semicolons or newlines ("1 2 3", "1,2,3"),
  or a JSON list of numbers;
- a matrix: text with rows separated by ";" or newlines and entries by spaces or commas
  ("1 2; 3 4", "1,2\\n3,4"), or a JSON list of lists of numbers (a flat list is one row).
A parameter left out takes the demo's default (the textbook example).

Every demo is bounded before any tensor is made (DemoLimits): the characters of each field's text, the
numbers in all its inputs together, the numbers in each result (computed from the shapes, e.g. what a
broadcast would make) and its repeats. Tensors of more than SHOWN_IN_FULL numbers come back summarized
(shape, dtype and torch's own excerpt), so an answer stays a few kilobytes whatever the input.
"""

import inspect
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

SHOWN_IN_FULL = 64  # a tensor with more numbers is shown as its shape, dtype and an excerpt
FLOAT32_MAX = float(torch.finfo(torch.float32).max)
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")


@dataclass(frozen=True)
class DemoLimits:
    """How big a demo may get; each bound is checked before any tensor is made."""

    numbers: int = 4096  # numbers in all of a demo's inputs together
    result_numbers: int = 1024 * 1024  # numbers in any one tensor a demo computes (4 MB of float32)
    text_chars: int = 20_000  # characters of one field's text (the form's inputs have the same maxlength)
    repeats: int = 10  # backward() calls of grad_accumulation


# What can be wrong with a learner's input, in words; `code` and the values let the web say it in zh too.
INPUT_PROBLEMS = {
    "not_a_number_type": "{name}: expected a number, got {got}",
    "empty_number": "{name}: empty input; enter a number",
    "not_a_number": "{name}: {shown} is not a number; use digits like 3, -0.5 or 1e-3",
    "not_finite": "{name}: NaN and infinity are not accepted; enter a finite number",
    "beyond_float32": "{name}: {number} is beyond float32's range (about 3.4e38); use a smaller number",
    "not_whole": "{name}: expected a whole number from {lo} to {hi}, got {got}",
    "whole_out_of_range": "{name}: {value} is out of range; use a whole number from {lo} to {hi}",
    "too_many": "{name}: too many numbers; with it the inputs hold {total}, and the limit is {limit} "
    "numbers in all the inputs together. Make {name} shorter",
    "text_too_long": "{name}: {chars} characters is too long; the limit is {limit} characters per field. "
    "Shorten {name}",
    "result_too_big": "{operation} would hold {count} numbers ({shape}); the limit is {limit} numbers "
    "per result. Use fewer numbers in {inputs}",
    "not_rows": "{name}: expected rows of numbers such as '1 2; 3 4', got {got}",
    "empty_rows": "{name}: empty input; enter rows of numbers such as '1 2; 3 4'",
    "ragged": "{name}: ragged rows; row 1 has {width} numbers but row {row} has {count}. "
    "Give every row the same number of entries",
    "not_numbers": "{name}: expected numbers such as '1 2 3', got {got}",
    "empty_numbers": "{name}: empty input; enter numbers such as '1 2 3'",
    "lengths_differ": "{name_a} has {len_a} numbers but {name_b} has {len_b}; "
    "give both the same number of entries",
    "labels_rows": "y has {labels} labels but y_hat has {rows} rows; give one label per row",
    "not_a_class": "y: label {label} is not a class index; use whole numbers from 0 to {top}",
    "shift_range": "c must lie within [-1e6, 1e6] and k within [-1000, 1000]",
    "plot_range": "lo and hi must satisfy -20 <= lo < hi <= 20",
    "unknown_demo": "unknown demo {name}; choose one of {choices}",
    "not_a_mapping": "{name}: parameters must be a mapping of names to values",
    "unknown_parameters": "{name}: unknown parameter(s) {unknown}; use {accepted}",
}


class DemoInputError(ValueError):
    """The learner's input cannot be used; the message says what to change."""

    def __init__(self, code: str, **params):
        super().__init__(INPUT_PROBLEMS[code].format(**params))
        self.code, self.params = code, {key: str(value) for key, value in params.items()}


# ---------------------------------------------------------------- parsing


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool):
        raise DemoInputError("not_a_number_type", name=name, got=repr(value))
    if isinstance(value, int | float):
        number = float(value) if isinstance(value, float) or abs(value) < 10**300 else math.inf
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            raise DemoInputError("empty_number", name=name)
        if not _NUMBER.fullmatch(text):
            shown = text if len(text) <= 20 else text[:20] + "..."
            raise DemoInputError("not_a_number", name=name, shown=repr(shown))
        number = float(text)
    else:
        raise DemoInputError("not_a_number_type", name=name, got=type(value).__name__)
    if not math.isfinite(number):
        raise DemoInputError("not_finite", name=name)
    if abs(number) > FLOAT32_MAX:
        raise DemoInputError("beyond_float32", name=name, number=f"{number:g}")
    return number


def _integer(value: Any, name: str, lo: int, hi: int) -> int:
    if isinstance(value, bool):
        raise DemoInputError("not_whole", name=name, lo=lo, hi=hi, got=repr(value))
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()) and len(value.strip()) <= 30:
        value = int(value.strip())
    if not isinstance(value, int):
        raise DemoInputError("not_whole", name=name, lo=lo, hi=hi, got=repr(value))
    if not lo <= value <= hi:
        raise DemoInputError("whole_out_of_range", name=name, value=value, lo=lo, hi=hi)
    return value


def _shape_words(shape: tuple[int, ...]) -> str:
    return " x ".join(map(str, shape))


class Inputs:
    """Reads one demo's fields within the limits, counting the numbers of all its fields together.

    Sizes are checked on the parsed text, before any number is converted or any tensor is made; `result`
    checks a tensor the demo is about to compute, from its shape alone."""

    def __init__(self, limits: DemoLimits):
        self.limits = limits
        self.total = 0

    def number(self, value: Any, name: str) -> float:
        self._check_text(value, name)
        return _number(value, name)

    def integer(self, value: Any, name: str, lo: int, hi: int) -> int:
        self._check_text(value, name)
        return _integer(value, name, lo, hi)

    def vector(self, value: Any, name: str) -> list[float]:
        """Numbers separated by spaces, commas, semicolons or newlines, or a JSON list of numbers."""
        self._check_text(value, name)
        if isinstance(value, str):
            entries: list[Any] = [entry for entry in re.split(r"[\s,;]+", value) if entry]
        elif isinstance(value, list):
            entries = value
        elif isinstance(value, int | float) and not isinstance(value, bool):
            entries = [value]
        else:
            raise DemoInputError("not_numbers", name=name, got=type(value).__name__)
        if not entries:
            raise DemoInputError("empty_numbers", name=name)
        self._count(len(entries), name)
        return [_number(entry, name) for entry in entries]

    def matrix(self, value: Any, name: str) -> list[list[float]]:
        """Rows of numbers: text "1 2; 3 4" or "1,2\\n3,4", a list of lists, or a flat list (one row)."""
        self._check_text(value, name)
        if isinstance(value, str):
            lines = [line.strip() for line in re.split(r"[;\n]", value)]
            rows: list[Any] = [re.split(r"[\s,]+", line) for line in lines if line]
        elif isinstance(value, list):
            rows = value if value and all(isinstance(row, list) for row in value) else [value]
        else:
            raise DemoInputError("not_rows", name=name, got=type(value).__name__)
        if not rows or not rows[0]:
            raise DemoInputError("empty_rows", name=name)
        self._count(sum(len(row) for row in rows), name)
        width = len(rows[0])
        for index, row in enumerate(rows):
            if len(row) != width:
                raise DemoInputError("ragged", name=name, width=width, row=index + 1, count=len(row))
        return [[_number(entry, name) for entry in row] for row in rows]

    def result(self, shape: tuple[int, ...], operation: str, inputs: str) -> None:
        """Refuses a tensor of this shape before it is made, when it would hold too many numbers."""
        count = math.prod(shape)
        if count > self.limits.result_numbers:
            raise DemoInputError(
                "result_too_big",
                operation=operation,
                count=count,
                shape=_shape_words(shape),
                limit=self.limits.result_numbers,
                inputs=inputs,
            )

    def _check_text(self, value: Any, name: str) -> None:
        if isinstance(value, str) and len(value) > self.limits.text_chars:
            raise DemoInputError("text_too_long", name=name, chars=len(value), limit=self.limits.text_chars)

    def _count(self, count: int, name: str) -> None:
        self.total += count
        if self.total > self.limits.numbers:
            raise DemoInputError("too_many", name=name, total=self.total, limit=self.limits.numbers)


def _same_length(a: list[float], b: list[float], name_a: str, name_b: str) -> None:
    if len(a) != len(b):
        raise DemoInputError("lengths_differ", name_a=name_a, len_a=len(a), name_b=name_b, len_b=len(b))


def _broadcast_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...] | None:
    """The shape `a * b` would have under broadcasting, or None where the shapes do not broadcast."""
    a, b = (1,) * (len(b) - len(a)) + a, (1,) * (len(a) - len(b)) + b
    if any(x != y and 1 not in (x, y) for x, y in zip(a, b, strict=True)):
        return None
    return tuple(max(x, y) for x, y in zip(a, b, strict=True))


# ---------------------------------------------------------------- output


def _clean(value: Any) -> Any:
    """JSON-ready: floats at float32 precision, non-finite floats as "inf", "-inf" or "nan"."""
    if isinstance(value, list | tuple):
        return [_clean(item) for item in value]
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return float(f"{value:.7g}")
    return value


def _excerpt(tensor: torch.Tensor) -> str:
    """torch's own summarized print (the first and last 3 entries of each dimension, "..." between),
    on one line."""
    torch.set_printoptions(threshold=SHOWN_IN_FULL, edgeitems=3, linewidth=1_000_000)
    try:
        text = str(tensor)
    finally:
        torch.set_printoptions(profile="default")
    return " ".join(line.strip() for line in text.splitlines())


def _shown(tensor: torch.Tensor) -> Any:
    """A tensor as the page shows it: all its values when small, else its shape, dtype and an excerpt."""
    tensor = tensor.detach()
    if tensor.numel() <= SHOWN_IN_FULL:
        return _clean(tensor.tolist())
    return {
        "shape": list(tensor.shape),
        "dtype": str(tensor.dtype).removeprefix("torch."),
        "excerpt": _excerpt(tensor),
    }


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max())


def _tensor(values: Any) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32)


# ---------------------------------------------------------------- demos


def mm_vs_mul(inputs: Inputs, A: Any = "1 2; 3 4", B: Any = "1 2; 3 4") -> dict:
    """torch.mm is the matrix product; torch.mul (and *) multiplies element-wise, broadcasting."""
    rows_a, rows_b = inputs.matrix(A, "A"), inputs.matrix(B, "B")
    shape_a, shape_b = (len(rows_a), len(rows_a[0])), (len(rows_b), len(rows_b[0]))
    if shape_a[1] == shape_b[0]:  # otherwise torch refuses, below, without making anything
        inputs.result((shape_a[0], shape_b[1]), "torch.mm(A, B)", "A, B")
    broadcast = _broadcast_shape(shape_a, shape_b)
    if broadcast is not None:
        inputs.result(broadcast, "torch.mul(A, B)", "A, B")
    a, b = _tensor(rows_a), _tensor(rows_b)

    def attempt(operation: Callable[[], torch.Tensor]) -> dict:
        try:
            result = operation()
        except RuntimeError as error:
            return {"ok": False, "error": str(error).strip().splitlines()[0]}
        return {"ok": True, "shape": list(result.shape), "result": _shown(result)}

    return {
        "shape_A": list(a.shape),
        "shape_B": list(b.shape),
        "mm": attempt(lambda: torch.mm(a, b)),
        "mul": attempt(lambda: torch.mul(a, b)),
    }


def manual_seed(inputs: Inputs, seed: Any = 1, n: Any = 4) -> dict:
    """Re-seeding repeats the same draws; drawing again without re-seeding gives new numbers."""
    seed, n = inputs.integer(seed, "seed", 0, 2**32 - 1), inputs.integer(n, "n", 1, 16)
    generator = torch.Generator()  # local: the process-wide RNG stays untouched
    generator.manual_seed(seed)
    seeded_first = torch.rand(n, generator=generator)
    generator.manual_seed(seed)
    seeded_second = torch.rand(n, generator=generator)
    unseeded_first = torch.rand(n, generator=generator)
    unseeded_second = torch.rand(n, generator=generator)
    return {
        "code": f"torch.manual_seed({seed}); torch.rand({n})",
        "seeded": [_shown(seeded_first), _shown(seeded_second)],
        "seeded_equal": bool(torch.equal(seeded_first, seeded_second)),
        "unseeded": [_shown(unseeded_first), _shown(unseeded_second)],
        "unseeded_equal": bool(torch.equal(unseeded_first, unseeded_second)),
    }


def grad_accumulation(inputs: Inputs, x: Any = "1 2 3", w: Any = 1, calls: Any = 3) -> dict:
    """backward() adds into .grad: without zeroing the gradient grows 1x, 2x, 3x; zeroed it stays."""
    xs, w0 = _tensor(inputs.vector(x, "x")), inputs.number(w, "w")
    calls = inputs.integer(calls, "calls", 1, inputs.limits.repeats)
    weight = torch.tensor(w0, requires_grad=True)

    def loss() -> torch.Tensor:
        return ((weight * xs) ** 2).sum() / 2

    accumulated, zeroed = [], []
    for _ in range(calls):
        loss().backward()
        accumulated.append(_clean(weight.grad.item()))
    for _ in range(calls):
        weight.grad.zero_()  # what optimizer.zero_grad() does
        loss().backward()
        zeroed.append(_clean(weight.grad.item()))
    return {
        "function": "loss = sum((w * x) ** 2) / 2; dloss/dw = w * sum(x ** 2)",
        "single_grad": _clean(w0 * float((xs**2).sum())),
        "without_zero_grad": accumulated,
        "with_zero_grad": zeroed,
    }


def view_shapes(inputs: Inputs, y: Any = "1 2 3 4", y_hat: Any = None) -> dict:
    """y.view(-1) is (n,); y_hat (n, 1) minus it broadcasts to (n, n), minus y.view(-1, 1) stays (n, 1)."""
    values_y = inputs.vector(y, "y")
    n = len(values_y)
    inputs.result((n, n), "y_hat - y.view(-1)", "y")
    ys = _tensor(values_y)
    if y_hat is None:  # a perfect prediction: the right loss is 0, the broadcast one is not
        predicted = ys.clone().view(-1, 1)
    else:
        values = inputs.vector(y_hat, "y_hat")
        _same_length(values, values_y, "y_hat", "y")
        predicted = _tensor(values).view(-1, 1)
    wrong = predicted - ys.view(-1)
    right = predicted - ys.view(-1, 1)
    result = {
        "shapes": {
            "y": list(ys.shape),
            "y.view(-1)": list(ys.view(-1).shape),
            "y.view(-1, 1)": list(ys.view(-1, 1).shape),
            f"y.view({n}, 1)": list(ys.view(n, 1).shape),
            "y_hat": list(predicted.shape),
        },
        "y_hat - y.view(-1)": {"shape": list(wrong.shape), "loss": _clean(float((wrong**2 / 2).mean()))},
        "y_hat - y.view(-1, 1)": {"shape": list(right.shape), "loss": _clean(float((right**2 / 2).mean()))},
    }
    if n <= 6:
        result["y_hat - y.view(-1)"]["values"] = _shown(wrong)
        result["y_hat - y.view(-1, 1)"]["values"] = _shown(right)
    return result


def squared_loss(inputs: Inputs, y_hat: Any = "2.33 1.07 1.23", y: Any = "3.14 0.98 1.32") -> dict:
    """Per-example (y_hat - y)^2 / 2 and its mean over the batch."""
    predicted, target = inputs.vector(y_hat, "y_hat"), inputs.vector(y, "y")
    _same_length(predicted, target, "y_hat", "y")
    losses = (_tensor(predicted) - _tensor(target)) ** 2 / 2
    return {
        "per_example": _shown(losses),
        "mean": _clean(float(losses.mean())),
        "mean_without_half": _clean(float((2 * losses).mean())),
        "sum": _clean(float(losses.sum())),
    }


def gather_accuracy(inputs: Inputs, y_hat: Any = "0.1 0.3 0.6; 0.3 0.2 0.5", y: Any = "0 2") -> dict:
    """gather picks each row's score for its label; accuracy is the mean of argmax == label."""
    scores = _tensor(inputs.matrix(y_hat, "y_hat"))
    rows, classes = scores.shape
    labels = inputs.vector(y, "y")
    if len(labels) != rows:
        raise DemoInputError("labels_rows", labels=len(labels), rows=rows)
    for label in labels:
        if not label.is_integer() or not 0 <= label < classes:
            raise DemoInputError("not_a_class", label=f"{label:g}", top=classes - 1)
    target = torch.tensor([int(label) for label in labels])
    predicted = scores.argmax(dim=1)
    correct = predicted == target
    return {
        "gathered": _shown(scores.gather(1, target.view(-1, 1))),
        "argmax": _shown(predicted),
        "correct": _shown(correct),
        "accuracy": _clean(float(correct.float().mean())),
    }


def softmax_shift(inputs: Inputs, scores: Any = "1 2 3", c: Any = 99, k: Any = 2) -> dict:
    """Adding c to every score leaves softmax unchanged; scaling by k sharpens it; naive exp overflows."""
    x = _tensor(inputs.vector(scores, "scores"))
    shift, scale = inputs.number(c, "c"), inputs.number(k, "k")
    if abs(shift) > 1e6 or abs(scale) > 1e3:
        raise DemoInputError("shift_range")
    softmax, shifted, scaled = (torch.softmax(v, dim=0) for v in (x, x + shift, scale * x))

    def naive(v: torch.Tensor) -> torch.Tensor:
        return v.exp() / v.exp().sum()

    def stable(v: torch.Tensor) -> torch.Tensor:
        return (v - v.max()).exp() / (v - v.max()).exp().sum()

    return {
        "softmax(x)": _shown(softmax),
        "softmax(x + c)": _shown(shifted),
        "shift_max_difference": _clean(_max_diff(softmax, shifted)),
        "softmax(k * x)": _shown(scaled),
        "scale_max_difference": _clean(_max_diff(softmax, scaled)),
        "exp(x)": _shown(x.exp()),
        "naive": _shown(naive(x)),
        "naive_finite": bool(torch.isfinite(naive(x)).all()),
        "stable": _shown(stable(x)),
        "exp(x + c)": _shown((x + shift).exp()),
        "naive(x + c)": _shown(naive(x + shift)),
        "stable(x + c)": _shown(stable(x + shift)),
    }


def activations(inputs: Inputs, lo: Any = -8, hi: Any = 8, points: Any = 81) -> dict:
    """relu, sigmoid, tanh and their derivatives by autograd, checked against s(1 - s) and 1 - tanh^2.

    Each curve comes back twice: as the table shows it (summarized beyond SHOWN_IN_FULL points) and
    whole under "curves", the chart's data (at most 401 points each)."""
    low, high = inputs.number(lo, "lo"), inputs.number(hi, "hi")
    count = inputs.integer(points, "points", 2, 401)
    if not -20 <= low < high <= 20:
        raise DemoInputError("plot_range")
    grid = torch.linspace(low, high, count, dtype=torch.float64)
    grid[grid.abs() < 1e-9 * (high - low)] = 0.0  # the point linspace misses 0 by (-4.44e-16) is 0
    x = grid.float().requires_grad_()
    curves = {"x": x.detach().clone()}
    for name, function in (("relu", torch.relu), ("sigmoid", torch.sigmoid), ("tanh", torch.tanh)):
        values = function(x)
        values.sum().backward()
        curves[name], curves[f"{name}_grad"] = values.detach(), x.grad.clone()
        x.grad = None
    result: dict[str, Any] = {name: _shown(curve) for name, curve in curves.items()}
    with torch.no_grad():
        s, t = torch.sigmoid(x), torch.tanh(x)
        result["check"] = {
            "max |sigmoid_grad - s * (1 - s)|": _clean(_max_diff(curves["sigmoid_grad"], s * (1 - s))),
            "max |tanh_grad - (1 - tanh ** 2)|": _clean(_max_diff(curves["tanh_grad"], 1 - t**2)),
        }
    result["curves"] = {name: _clean(curve.tolist()) for name, curve in curves.items()}
    return result


def backward_weights(inputs: Inputs, x: Any = "1 2 3", w: Any = "0.1 1 10") -> dict:
    """y.backward(w) leaves in x.grad the gradient of sum(y * w): a vector-Jacobian product."""
    xs, ws = inputs.vector(x, "x"), inputs.vector(w, "w")
    _same_length(xs, ws, "x", "w")
    weights = _tensor(ws)
    first = _tensor(xs).requires_grad_()
    (first**2).backward(weights)
    second = _tensor(xs).requires_grad_()
    ((second**2) * weights).sum().backward()
    return {
        "function": "y = x ** 2; x.grad = 2 * x * w",
        "y.backward(w)": _shown(first.grad),
        "sum(y * w).backward()": _shown(second.grad),
        "max_difference": _clean(_max_diff(first.grad, second.grad)),
    }


def data_iter(inputs: Inputs, n: Any = 20, batch_size: Any = 4) -> dict:
    """Slices of batch_size over n (shuffled) examples; the last batch may be shorter."""
    count = inputs.integer(n, "n", 1, 10000)
    size = inputs.integer(batch_size, "batch_size", 1, 10000)
    starts = torch.arange(0, count, size)
    sizes = (count - starts).clamp(max=size)
    return {
        "starts": _shown(starts),
        "sizes": _shown(sizes),
        "batches": len(starts),
        "last_batch_short": int(sizes[-1]) < size,
    }


DEMOS: dict[str, Callable[..., dict]] = {
    function.__name__: function
    for function in (
        mm_vs_mul,
        manual_seed,
        grad_accumulation,
        view_shapes,
        squared_loss,
        gather_accuracy,
        softmax_shift,
        activations,
        backward_weights,
        data_iter,
    )
}


def demo_parameters(name: str) -> list[str]:
    """The parameters a learner may give the named demo (all but the first, `inputs`)."""
    return list(inspect.signature(DEMOS[name]).parameters)[1:]


def run_demo(name: str, params: dict, limits: DemoLimits = DemoLimits()) -> dict:
    """The named demo's JSON-ready result; DemoInputError for an unknown name or unusable input."""
    if not isinstance(name, str) or name not in DEMOS:
        raise DemoInputError("unknown_demo", name=repr(name), choices=", ".join(DEMOS))
    if not isinstance(params, dict):
        raise DemoInputError("not_a_mapping", name=name)
    accepted = demo_parameters(name)
    unknown = sorted(str(key) for key in params if key not in accepted)
    if unknown:
        raise DemoInputError(
            "unknown_parameters", name=name, unknown=", ".join(unknown), accepted=", ".join(accepted)
        )
    return DEMOS[name](Inputs(limits), **params)
