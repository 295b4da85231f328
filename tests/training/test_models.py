"""The model code itself: the book's formulas, and one learning rate meaning one step in both versions."""

import math

import pytest
import torch

from app.training.models import build_model
from app.training.models.linreg import squared_loss
from app.training.models.softmax import cross_entropy, log_softmax, softmax, softmax_cross_entropy
from app.training.specs import parse_spec

SHAPES = {"linreg": (2, 1), "softmax": (6, 3), "mlp": (6, 3)}


def batch_for(model_name, generator):
    n_in, n_out = SHAPES[model_name]
    X = torch.randn(8, n_in, generator=generator)
    if model_name == "linreg":
        return X, torch.randn(8, 1, generator=generator)
    return X, torch.randint(0, n_out, (8,), generator=generator)


def weights_after_steps(model_name, impl, steps=3, **options):
    spec = parse_spec(dict(model=model_name, impl=impl, lr=0.3, init_std=0.5, **options))
    model = build_model(spec, *SHAPES[model_name], torch.Generator().manual_seed(1), torch.device("cpu"))
    data = torch.Generator().manual_seed(2)
    for _ in range(steps):
        model.train_step(*batch_for(model_name, data))
    return model.weights()


@pytest.mark.parametrize("model_name", ["linreg", "softmax", "mlp"])
@pytest.mark.parametrize("options", [{}, {"weight_decay": 0.1}], ids=["plain", "weight-decay"])
def test_one_learning_rate_is_one_step_in_both_implementations(model_name, options):
    scratch = weights_after_steps(model_name, "scratch", **options)
    concise = weights_after_steps(model_name, "concise", **options)
    assert scratch.keys() == concise.keys()
    for name in scratch:
        torch.testing.assert_close(scratch[name], concise[name], rtol=1e-5, atol=1e-6)


def test_weight_decay_shrinks_the_weights():
    plain = weights_after_steps("softmax", "scratch", steps=20)["W"]
    decayed = weights_after_steps("softmax", "scratch", steps=20, weight_decay=0.5)["W"]
    assert decayed.norm() < 0.9 * plain.norm()


def test_squared_loss_of_the_quiz_batch():
    y_hat = torch.tensor([[2.33], [1.07], [1.23]])
    y = torch.tensor([3.14, 0.98, 1.32])
    assert squared_loss(y_hat, y).mean().item() == pytest.approx(0.11205, abs=1e-6)


def test_broadcast_bug_compares_every_prediction_with_every_label():
    y_hat, y = torch.zeros(5, 1), torch.arange(5.0)
    assert squared_loss(y_hat, y).shape == (5, 1)
    assert squared_loss(y_hat, y, broadcast_bug=True).shape == (5, 5)


def test_cross_entropy_picks_the_true_class_with_gather():
    y_hat = torch.tensor([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
    y = torch.tensor([0, 2])
    torch.testing.assert_close(cross_entropy(torch.log(y_hat), y), -torch.log(torch.tensor([0.1, 0.5])))
    assert (y_hat.argmax(dim=1) == y).float().mean().item() == 0.5


def test_softmax_ignores_a_shift_but_not_a_scale():
    shifted = log_softmax(torch.tensor([[100.0, 101, 102]])).exp()
    torch.testing.assert_close(shifted, softmax(torch.tensor([[-2.0, -1, 0]])))
    assert softmax(torch.tensor([[100.0, 101, 102]])).isnan().all()  # exp(100) is inf in float32
    probs = softmax(torch.tensor([[1.0, 2, 3]]))[0].tolist()
    doubled = softmax(torch.tensor([[2.0, 4, 6]]))[0].tolist()
    assert probs == pytest.approx([0.090, 0.245, 0.665], abs=1e-3)
    assert doubled == pytest.approx([0.016, 0.117, 0.867], abs=1e-3)


def test_naive_softmax_overflows_where_log_sum_exp_does_not():
    scores, labels = torch.tensor([[1000.0, 1010, 1020]]), torch.tensor([2])
    assert math.isnan(softmax_cross_entropy(scores, labels, naive=True).item())
    assert softmax_cross_entropy(scores, labels).item() == pytest.approx(4.54e-5, rel=1e-2)
    torch.testing.assert_close(
        log_softmax(torch.tensor([[1.0, 2, 3]])), torch.log_softmax(torch.tensor([[1.0, 2, 3]]), 1)
    )


def test_parameter_shapes_do_not_depend_on_the_batch():
    """Quiz 1: 8 inputs to 1 output: w is 8x1 and b has one entry, for any batch size."""
    spec = parse_spec(dict(model="linreg", true_w=[0.0] * 8))
    model = build_model(spec, 8, 1, torch.Generator().manual_seed(0), torch.device("cpu"))
    assert model.w.shape == (8, 1) and model.b.shape == (1,)
    assert model.forward(torch.randn(7, 8)).shape == (7, 1)


def test_without_zero_grad_the_gradient_is_the_sum_of_every_backward():
    spec = parse_spec(dict(model="linreg", lr=1e-9, skip_zero_grad=True))
    model = build_model(spec, 2, 1, torch.Generator().manual_seed(1), torch.device("cpu"))
    data = torch.Generator().manual_seed(2)
    batches = [batch_for("linreg", data) for _ in range(3)]
    expected = torch.zeros(2, 1)
    for X, y in batches:
        model.train_step(X, y)
        expected += X.T @ (model.forward(X).detach() - y)  # d/dw of sum((Xw + b - y)^2 / 2), w barely moves
    torch.testing.assert_close(model.w.grad, expected, rtol=1e-4, atol=1e-4)
