"""The playground's form: the controls each model shows, their bounds, and the way between a URL query or
a submitted form and a run spec. A copied link restores every setting, so query and form read alike."""

import math
from dataclasses import dataclass
from typing import get_args
from urllib.parse import urlencode

from fastapi import Request
from pydantic import BaseModel

from app.training.specs import SPEC_CLASSES, Activation, Problem, SpecError, excerpt, field_limits, parse_spec

from .i18n import messages, tr

LOG_LR_MIN, LOG_LR_MAX = -4, 1  # the learning-rate slider: 1e-4 .. 10


@dataclass(frozen=True)
class Model:
    key: str
    title: str
    goal: str
    controls: tuple[str, ...]


COMMON = ("lr", "batch_size", "epochs", "impl", "seed", "skip_zero_grad")
# The 2-D sets' own data settings (the image sets ignore them): the page shows them for those sets only
TOY2D_CONTROLS = ("noise", "n_examples", "test_share", "data_seed")
MODELS = {
    "linreg": Model(
        "linreg",
        "Linear regression",
        "Watch minibatch SGD recover the weights that made the data: the learned w and b walk toward "
        "the true ones. Then see what a learning rate that is too large, or one broadcasting slip, does.",
        (*COMMON, "true_w", "broadcast_bug", "landscape_fix_b"),
    ),
    "softmax": Model(
        "softmax",
        "Softmax regression",
        "Turn scores into class probabilities and train them with cross-entropy. On the 2-D sets the "
        "boundaries are straight lines; on images each class's weights become a picture you can read.",
        (*COMMON, "dataset", *TOY2D_CONTROLS, "init_std", "naive_softmax"),
    ),
    "mlp": Model(
        "mlp",
        "Multilayer perceptron",
        "Add a hidden layer and a nonlinearity and the boundary can bend: train on spiral or xor, which "
        "softmax cannot separate, and see what width, depth and the activation change.",
        (
            *COMMON,
            "dataset",
            *TOY2D_CONTROLS,
            "init_std",
            "hidden_units",
            "hidden_layers",
            "activation",
            "naive_softmax",
            "neurons",
        ),
    ),
}

PITFALLS = ("broadcast_bug", "skip_zero_grad", "naive_softmax")  # explained by the catalog's pitfall.<name>
BOOL_FIELDS = frozenset(PITFALLS) | {"landscape_fix_b", "neurons"}
TRUE_W = {"book": [2.0, -3.4], "line": [2.0]}
ACTIVATIONS = get_args(Activation)


def raw_spec(model: Model, values) -> tuple[dict, list[str]]:
    """Form or query strings as a spec dict for parse_spec, plus problems found on the way."""
    raw: dict = {"model": model.key}
    problems = []
    for name in model.controls:
        value = values.get(name)
        if name in BOOL_FIELDS:
            raw[name] = str(value or "").lower() in ("on", "true", "1", "yes")
        elif value is None:
            continue
        elif name == "true_w":
            if value in TRUE_W:
                raw[name] = TRUE_W[value]
            else:
                choices = " or ".join(TRUE_W)
                got = excerpt(value)
                problems.append(Problem(f"true_w: choose {choices} (got {got})", "true_w", got=got))
        else:
            raw[name] = whole_if_integral(model, name, str(value).strip())
    return raw, problems


def whole_if_integral(model: Model, name: str, text: str) -> str:
    """'1e3' or '32.0' for a whole-number setting as '1000' or '32': a number field reads them as that
    number, so the server takes them too. Anything else is left for the spec to judge."""
    field = SPEC_CLASSES[model.key].model_fields.get(name)
    if field is None or field.annotation is not int:
        return text
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() and abs(number) < 1e15 else text


def plain_number(value) -> str:
    """2147483647 as itself, 0.1 as 0.1, 1e-05 as 1e-05: whole numbers never in exponent form."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int) or (value.is_integer() and abs(value) < 1e15):
        return str(int(value))
    return f"{value:g}"


def spec_from_query(model: Model, query, auto_dataset: str) -> tuple[BaseModel, list[str]]:
    """The settings a link asks for; each invalid one falls back to its default with a notice. The
    dataset "auto" (or none) becomes `auto_dataset`, whose defaults the settings left out take."""
    raw, notices = raw_spec(model, query)
    kept = {"model": model.key}
    for name, value in raw.items():
        try:
            parse_spec({"model": model.key, name: value})
            kept[name] = value
        except SpecError as error:
            notices.extend(error.problems)
    try:
        return parse_spec(kept, auto_dataset=auto_dataset), notices
    except SpecError as error:  # a rule across settings (naive_softmax needs scratch)
        notices.extend(error.problems)
        kept.pop("naive_softmax", None)
        try:
            return parse_spec(kept, auto_dataset=auto_dataset), notices
        except SpecError:
            return parse_spec({"model": model.key}, auto_dataset=auto_dataset), notices


def field_bounds(spec_class: type[BaseModel], name: str) -> dict:
    """min, max (as numbers and as text), whether min is excluded, and step for a number field, from
    the spec's field metadata."""
    field = spec_class.model_fields[name]
    bounds: dict = {"step": "1" if field.annotation is int else "any"}
    limits = field_limits(spec_class, name) or {}
    if limits.get("low") is not None:
        bounds |= {
            "min": limits["low"],
            "min_text": plain_number(limits["low"]),
            "low_open": limits["low_open"],
        }
    if limits.get("high") is not None:
        bounds |= {"max": limits["high"], "max_text": plain_number(limits["high"])}
    bounds["help"] = field.description or ""
    return bounds


def controls_of(model: Model, spec: BaseModel) -> dict:
    spec_class = SPEC_CLASSES[model.key]
    controls = {}
    for name in model.controls:
        control = field_bounds(spec_class, name) if name != "true_w" else {"help": ""}
        control["value"] = getattr(spec, name)
        controls[name] = control
    if "true_w" in controls:
        controls["true_w"]["value"] = "line" if len(spec.true_w) == 1 else "book"
    controls["lr"]["log10"] = round(min(max(math.log10(spec.lr), LOG_LR_MIN), LOG_LR_MAX), 2)
    return controls


def localized_help(request: Request, controls: dict) -> dict:
    """Each control's help line in the visitor's language, where the catalog has one (help.<name>)."""
    for name, control in controls.items():
        if f"help.{name}" in messages():
            control["help"] = tr(request, f"help.{name}")
    return controls


def play_query(spec: dict) -> str:
    """The playground URL query that sets up `spec` again."""
    model = MODELS.get(spec.get("model"))
    pairs = []
    for name in model.controls if model else ():
        value = spec.get(name)
        if name == "true_w":
            pairs.append((name, "line" if len(value or []) == 1 else "book"))
        elif name in BOOL_FIELDS:
            pairs += [(name, "on")] if value else []
        elif value is not None:
            pairs.append((name, plain_number(value)))
    return urlencode(pairs)
