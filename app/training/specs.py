"""What a learner can ask for: one validated spec per model, every number bounded.

The CLI, the web API and the tests all build one of these; the trainer accepts nothing else.
"""

import reprlib
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from .defaults import defaults_for

ClassificationDataset = Literal["auto", "fashion-mnist", "digits", "blobs", "spiral", "circles", "xor"]
Activation = Literal["relu", "sigmoid", "tanh", "leaky_relu"]
Impl = Literal["scratch", "concise"]


class BaseSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # NaN and infinities: never a setting

    impl: Impl = Field("scratch", description="the book's from-scratch code, or torch.nn + torch.optim")
    batch_size: int = Field(256, ge=1, le=8192, description="examples per minibatch")
    epochs: int = Field(10, ge=1, le=200, description="passes over the training set")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="seeds torch, numpy and random")
    init_std: float = Field(0.01, ge=0, le=10, description="weights start as N(0, init_std^2); biases at 0")
    weight_decay: float = Field(0.0, ge=0, le=1, description="L2 penalty on the weights (not the biases)")
    skip_zero_grad: bool = Field(False, description="pitfall: never clear .grad, so gradients pile up")
    step_events_per_epoch: int = Field(20, ge=1, le=1000, description="how many loss points one epoch plots")
    insights: bool = Field(
        True, description="compute the see-inside views: loss landscape, layer health, confusion matrix"
    )

    @model_validator(mode="before")
    @classmethod
    def take_the_pairs_defaults(cls, data):
        """Each field the caller left out takes its (model, dataset) pair's default (defaults.py); what
        the caller gave is never changed. Fields outside the table keep the field defaults below."""
        if not isinstance(data, dict):
            return data
        model, dataset = (cls.field_default(name) for name in ("model", "dataset"))
        return defaults_for(model, data.get("dataset", dataset)) | data

    @classmethod
    def field_default(cls, name: str):
        field = cls.model_fields.get(name)
        return field.default if field else None


class LinRegSpec(BaseSpec):
    model: Literal["linreg"] = "linreg"
    dataset: Literal["synthetic-linear"] = "synthetic-linear"
    lr: float = Field(0.03, gt=0, le=1000, description="learning rate")
    batch_size: int = Field(10, ge=1, le=8192, description="examples per minibatch")
    epochs: int = Field(3, ge=1, le=200, description="passes over the training set")
    true_w: list[Annotated[float, Field(ge=-100, le=100)]] = Field(
        default_factory=lambda: [2.0, -3.4], min_length=1, max_length=16, description="weights that made y"
    )
    true_b: float = Field(4.2, ge=-100, le=100, description="bias that made y")
    n_examples: int = Field(1000, ge=10, le=200_000, description="training examples generated")
    noise_std: float = Field(0.01, ge=0, le=10, description="std of the noise added to y")
    broadcast_bug: bool = Field(False, description="pitfall: squared loss with y.view(-1), which broadcasts")
    landscape_fix_b: bool = Field(
        False, description="draw the loss landscape with b fixed at true_b instead of its current value"
    )


# Rules across fields, by code (the web translates them; the English here is the catalog's English).
CROSS_FIELD_RULES = {
    "naive_needs_scratch": "naive_softmax: only the scratch implementation writes softmax by hand; "
    "nn.CrossEntropyLoss is always stable, so choose impl scratch for this pitfall",
}
# A value of the wrong kind, by pydantic's error type: (catalog code, the English the catalog repeats).
# The playground form checks the same rules in the browser and says the same sentences.
KIND_RULES = {
    "int_parsing": ("whole_number", "must be a whole number"),
    "int_from_float": ("whole_number", "must be a whole number"),
    "int_type": ("whole_number", "must be a whole number"),
    "float_parsing": ("number", "must be a number, such as 0.1 or 1e-3"),
    "float_type": ("number", "must be a number, such as 0.1 or 1e-3"),
    "bool_parsing": ("on_off", "must be true or false"),
    "bool_type": ("on_off", "must be true or false"),
}
# NaN or an infinity for a number (catalog: problem.not_finite)
NOT_FINITE = "{field}: must be a finite number, not NaN or infinity (got {got})"


class ClassifierSpec(BaseSpec):
    dataset: ClassificationDataset = Field(
        "auto",
        description="auto: Fashion-MNIST if on disk, else digits; settings left out take this dataset's "
        "defaults (small batches and more epochs on digits and the 2-D sets)",
    )
    n_examples: int = Field(600, ge=30, le=100_000, description="points generated for the 2-D sets")
    noise: float = Field(0.2, ge=0, le=2, description="noise of the 2-D sets")
    test_share: float = Field(
        0.25, ge=0.1, le=0.5, description="share of the 2-D set's points held out for testing"
    )
    data_seed: int = Field(
        0, ge=0, le=2**31 - 1, description="draws the 2-D set's points; 0: the run's seed draws them"
    )
    naive_softmax: bool = Field(False, description="pitfall: exp() without subtracting the max first")

    @model_validator(mode="after")
    def naive_softmax_needs_scratch(self):
        if self.naive_softmax and self.impl == "concise":
            raise ValueError(CROSS_FIELD_RULES["naive_needs_scratch"])
        return self


class SoftmaxSpec(ClassifierSpec):
    model: Literal["softmax"] = "softmax"
    lr: float = Field(0.1, gt=0, le=1000, description="learning rate")


class MLPSpec(ClassifierSpec):
    model: Literal["mlp"] = "mlp"
    lr: float = Field(0.5, gt=0, le=1000, description="learning rate")
    hidden_units: int = Field(256, ge=1, le=4096, description="units in each hidden layer")
    hidden_layers: int = Field(1, ge=1, le=3, description="number of hidden layers")
    activation: Activation = Field("relu", description="nonlinearity after each hidden layer")
    neurons: bool = Field(
        False,
        description="2-D sets: draw the network unit by unit, each hidden unit's activation over the plane",
    )


RunSpec = Annotated[LinRegSpec | SoftmaxSpec | MLPSpec, Field(discriminator="model")]
_run_spec_adapter: TypeAdapter[RunSpec] = TypeAdapter(RunSpec)

DEFAULT_LR = {"linreg": 0.03, "softmax": 0.1, "mlp": 0.5}


class Problem(str):
    """One readable line about a bad setting (English), with a code and values for translations."""

    code: str = ""
    params: dict

    def __new__(cls, text: str, code: str = "", **params):
        problem = super().__new__(cls, text)
        problem.code, problem.params = code, params
        return problem


class SpecError(ValueError):
    """A spec was refused; `problems` holds one readable line per bad field."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


AUTO_CHOICES = ("fashion-mnist", "digits")  # what "auto" may stand for (data.auto_dataset decides)


def parse_spec(data: dict, *, strict: bool = False, auto_dataset: str | None = None) -> RunSpec:
    """Validate raw input (JSON, CLI options, form strings) into a spec, or raise SpecError with readable
    lines. `strict` is for JSON: numbers must be numbers there (no true, no "0.1"), whole numbers whole.
    Forms send strings, so they parse without it; NaN and infinities are refused either way.

    Fields left out take the (model, dataset) pair's defaults (defaults.py). `auto_dataset`, the dataset
    "auto" stands for on the caller's machine ("fashion-mnist" or "digits": data.auto_dataset(data_dir)),
    replaces a classifier's missing or "auto" dataset before that, so the spec names the dataset it
    trains and takes that dataset's defaults. Without it "auto" stays, with the book's defaults."""
    if auto_dataset is not None:
        data = with_concrete_dataset(data, auto_dataset)
    try:
        return _run_spec_adapter.validate_python(data, strict=strict)
    except ValidationError as error:
        spec_class = spec_class_named(data.get("model")) if isinstance(data, dict) else None
        raise SpecError([explain(e, spec_class) for e in error.errors()]) from None


def with_concrete_dataset(data, auto_dataset: str):
    """`data` with its missing or "auto" dataset replaced by `auto_dataset`, for the classifiers."""
    if auto_dataset not in AUTO_CHOICES:
        raise ValueError(f"auto_dataset: one of {', '.join(AUTO_CHOICES)}, not {excerpt(auto_dataset)}")
    is_classifier = isinstance(data, dict) and data.get("model") in ("softmax", "mlp")
    if is_classifier and data.get("dataset", "auto") == "auto":
        return data | {"dataset": auto_dataset}
    return data


def spec_class_named(model) -> type[BaseSpec] | None:
    """The spec class for a model name; None for anything else (a list or a dict included)."""
    return SPEC_CLASSES.get(model) if isinstance(model, str) else None


SPEC_CLASSES: dict[str, type[BaseSpec]] = {"linreg": LinRegSpec, "softmax": SoftmaxSpec, "mlp": MLPSpec}


def field_limits(spec_class: type[BaseModel], field_name: str) -> dict | None:
    """{low, low_open, high, high_open} for a bounded number field (None where unbounded), else None."""
    field = spec_class.model_fields.get(field_name)
    if field is None:
        return None
    limits = {"low": None, "low_open": False, "high": None, "high_open": False}
    for rule in field.metadata:
        for attr, side, is_open in (
            ("gt", "low", True),
            ("ge", "low", False),
            ("lt", "high", True),
            ("le", "high", False),
        ):
            if getattr(rule, attr, None) is not None:
                limits[side], limits[f"{side}_open"] = getattr(rule, attr), is_open
    return limits if limits["low"] is not None or limits["high"] is not None else None


def allowed_range(spec_class: type[BaseModel], field_name: str) -> str | None:
    """'between 0 (exclusive) and 1000' for a bounded number field, else None."""
    limits = field_limits(spec_class, field_name)
    if limits is None:
        return None
    low = (
        "-inf"
        if limits["low"] is None
        else f"{limits['low']}" + (" (exclusive)" if limits["low_open"] else "")
    )
    high = (
        "inf"
        if limits["high"] is None
        else f"{limits['high']}" + (" (exclusive)" if limits["high_open"] else "")
    )
    return f"between {low} and {high}"


EXCERPT_CHARS = 80
_bounded_repr = reprlib.Repr()  # renders only the head of a huge list, dict or string
_bounded_repr.maxstring = _bounded_repr.maxother = _bounded_repr.maxlong = EXCERPT_CHARS
_bounded_repr.maxlist = _bounded_repr.maxtuple = _bounded_repr.maxdict = 8


def shorten(text: str, limit: int = EXCERPT_CHARS) -> str:
    """`text`, or its first characters and '...' when it is longer than `limit`."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def excerpt(value, limit: int = EXCERPT_CHARS) -> str:
    """repr(value) in at most `limit` characters: what an error may quote of a visitor's input."""
    try:
        return shorten(_bounded_repr.repr(value), limit)
    except ValueError:  # an integer of more than 4300 digits has no repr
        return f"<a {type(value).__name__} too large to show>"


def explain(error: dict, spec_class: type[BaseModel] | None) -> Problem:
    """One pydantic error as 'field: what is allowed (got X)', X an excerpt of the input."""
    location = ".".join(str(part) for part in error["loc"] if part not in SPEC_CLASSES)
    field_name = str(error["loc"][-1]) if error["loc"] else ""
    got = excerpt(error.get("input"))
    bounds = allowed_range(spec_class, field_name) if spec_class else None
    if error["type"] == "finite_number":
        return Problem(NOT_FINITE.format(field=location, got=got), "not_finite", field=location, got=got)
    if bounds and error["type"] in {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}:
        limits = field_limits(spec_class, field_name)
        text = f"{location}: must be {bounds} (got {got})"
        return Problem(text, "range", field=location, got=got, **limits)
    if error["type"] in {"union_tag_invalid", "union_tag_not_found"}:
        tag = excerpt(error["input"].get("model") if isinstance(error["input"], dict) else error["input"])
        models = ", ".join(SPEC_CLASSES)
        return Problem(f"model: must be one of {models} (got {tag})", "model", models=models, got=tag)
    if error["type"] == "value_error" and not location:  # a rule across fields; its message names them
        text = error["msg"].removeprefix("Value error, ")
        return Problem(text, next((code for code, rule in CROSS_FIELD_RULES.items() if rule == text), ""))
    if error["type"] == "extra_forbidden":
        return Problem(f"{location}: is not a setting of this model", "not_a_setting", field=location)
    if error["type"] in KIND_RULES and location:
        code, text = KIND_RULES[error["type"]]
        return Problem(f"{location}: {text} (got {got})", code, field=location, got=got)
    if error["type"] == "literal_error" and location:
        choices = str(error.get("ctx", {}).get("expected", "")).replace(" or ", ", ")
        text = f"{location}: must be one of {choices} (got {got})"
        return Problem(text, "choice", field=location, choices=choices, got=got)
    message = error["msg"]
    if bounds:
        message += f"; allowed range: {bounds}"
    return Problem(f"{location or 'spec'}: {message} (got {got})")
