"""Bad specs are refused with a message that names the field and what is allowed."""

import pytest

from app.training.specs import SpecError, parse_spec

REFUSED = [
    ({"model": "softmax", "lr": 0}, "lr: must be between 0 (exclusive) and 1000"),
    ({"model": "softmax", "lr": -1}, "lr: must be between 0 (exclusive) and 1000"),
    ({"model": "mlp", "batch_size": 0}, "batch_size: must be between 1 and 8192"),
    ({"model": "linreg", "epochs": 10**9}, "epochs: must be between 1 and 200"),
    ({"model": "mlp", "hidden_units": 5000}, "hidden_units: must be between 1 and 4096"),
    ({"model": "mlp", "activation": "swish"}, "activation: Input should be 'relu', 'sigmoid', 'tanh'"),
    ({"model": "softmax", "dataset": "cifar10"}, "dataset: Input should be 'auto', 'fashion-mnist'"),
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
