"""Bad specs are refused with a message that names the field and what is allowed."""

import pytest

from app.training.specs import SpecError, excerpt, parse_spec

REFUSED = [
    ({"model": "softmax", "lr": 0}, "lr: must be between 0 (exclusive) and 1000"),
    ({"model": "softmax", "lr": -1}, "lr: must be between 0 (exclusive) and 1000"),
    ({"model": "mlp", "batch_size": 0}, "batch_size: must be between 1 and 8192"),
    ({"model": "linreg", "epochs": 10**9}, "epochs: must be between 1 and 200"),
    ({"model": "mlp", "hidden_units": 5000}, "hidden_units: must be between 1 and 4096"),
    ({"model": "mlp", "activation": "swish"}, "activation: must be one of 'relu', 'sigmoid', 'tanh'"),
    ({"model": "softmax", "dataset": "cifar10"}, "dataset: must be one of 'auto', 'fashion-mnist'"),
    ({"model": "cnn"}, "model: must be one of linreg, softmax, mlp (got 'cnn')"),
    ({"model": "linreg", "hidden_units": 3}, "hidden_units: is not a setting of this model"),
    ({"model": "softmax", "impl": "concise", "naive_softmax": True}, "naive_softmax: "),
]


@pytest.mark.parametrize(("raw", "expected"), REFUSED)
def test_bad_specs_name_the_field_and_the_range(raw, expected):
    with pytest.raises(SpecError) as refused:
        parse_spec(raw)
    assert any(problem.startswith(expected) for problem in refused.value.problems), refused.value.problems


def test_defaults_are_the_books():
    linreg = parse_spec({"model": "linreg"})
    assert (linreg.lr, linreg.batch_size, linreg.epochs, linreg.true_w, linreg.true_b) == (
        0.03,
        10,
        3,
        [2, -3.4],
        4.2,
    )
    softmax = parse_spec({"model": "softmax"})
    assert (softmax.lr, softmax.batch_size, softmax.init_std) == (0.1, 256, 0.01)
    mlp = parse_spec({"model": "mlp"})
    assert (mlp.hidden_units, mlp.activation, mlp.lr) == (256, "relu", 0.5)


FORM_STRINGS = {"model": "mlp", "lr": "0.1", "epochs": "2", "hidden_units": "16", "init_std": "1e-2"}


def test_form_strings_parse_without_strict():
    spec = parse_spec(FORM_STRINGS)
    assert (spec.lr, spec.epochs, spec.hidden_units, spec.init_std) == (0.1, 2, 16, 0.01)


def test_strict_parsing_takes_json_as_json_writes_it():
    raw = {"model": "linreg", "lr": 1, "true_w": [1, -2.5], "broadcast_bug": True, "impl": "concise"}
    spec = parse_spec(raw, strict=True)
    assert (spec.lr, spec.true_w, spec.broadcast_bug) == (1.0, [1.0, -2.5], True)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"model": "mlp", "lr": True}, "lr"),
        ({"model": "mlp", "lr": "0.1"}, "lr"),
        ({"model": "mlp", "epochs": 5.0}, "epochs"),
        ({"model": "mlp", "hidden_units": "16"}, "hidden_units"),
        ({"model": "linreg", "true_w": ["1", 2]}, "true_w.0"),
        ({"model": "softmax", "insights": "true"}, "insights"),
    ],
)
def test_strict_parsing_takes_numbers_only_as_numbers(raw, field):
    with pytest.raises(SpecError) as refused:
        parse_spec(raw, strict=True)
    assert refused.value.problems[0].startswith(f"{field}: ")


@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize(
    "number", [float("nan"), float("inf"), -float("inf"), "nan", "inf", "-Infinity", "1e999"]
)
def test_nan_and_infinities_are_never_settings(number, strict):
    if strict and isinstance(number, str):
        number = float(number)  # JSON's NaN and Infinity arrive as floats
    with pytest.raises(SpecError) as refused:
        parse_spec({"model": "linreg", "true_b": number}, strict=strict)
    (problem,) = refused.value.problems
    assert problem.startswith("true_b: must be a finite number") and problem.code == "not_finite"


@pytest.mark.parametrize("model", [["mlp"], {}, {"mlp": 1}, None])
def test_a_model_that_is_not_a_name_is_a_problem_not_a_crash(model):
    with pytest.raises(SpecError) as refused:
        parse_spec({"model": model, "lr": 0})
    assert refused.value.problems[0].startswith("model: must be one of linreg, softmax, mlp")


@pytest.mark.parametrize(
    "raw",
    [
        {"model": "linreg", "true_w": [1.0] * 1_000_000},
        {"model": "linreg", "true_w": "w" * 1_000_000},
        {"model": "linreg", "true_w": [[1.0] * 1000] * 1000},
        {"model": "m" * 1_000_000},
        {"model": "linreg", "n_examples": 10**5000},  # has no repr at all
        {"model": "linreg", "true_b": "9" * 1_000_000},
    ],
)
def test_problems_quote_only_an_excerpt_of_the_input(raw):
    with pytest.raises(SpecError) as refused:
        parse_spec(raw)
    for problem in refused.value.problems:
        assert len(problem) < 300 and all(len(str(value)) <= 80 for value in problem.params.values())


def test_an_excerpt_is_the_repr_when_short_and_its_head_when_long():
    assert (
        excerpt("-1") == "'-1'" and excerpt([2.0, -3.4]) == "[2.0, -3.4]" and excerpt(float("nan")) == "nan"
    )
    assert len(excerpt("x" * 10_000)) <= 80 and excerpt(list(range(10_000))).endswith("...]")
