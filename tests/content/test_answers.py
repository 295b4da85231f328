"""Every answer key in the exercise content is recomputed here with torch, so a wrong key cannot ship."""

import ast
import math
import re

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from app.exercises.answers import ACCEPTED_FORMS, parse_number, parse_shape
from app.exercises.content import answer_form, check_answer, find_item, grade, load_sections

TRUE_W, TRUE_B = [2.0, -3.4], 4.2


def item(item_id):
    return find_item(item_id)[1]


def plain(text):
    """The text as read, without the backticks that mark code."""
    return text.replace("`", "")


def key_text(item_id):
    """The English text of the choice the answer key points to."""
    it = item(item_id)
    return next(plain(choice.text.en) for choice in it.choices if choice.id == it.answer)


def choices_en(item_id):
    return {choice.id: plain(choice.text.en) for choice in item(item_id).choices}


def number_key(item_id, computed):
    it = item(item_id)
    assert it.kind == "number"
    assert abs(it.answer - computed) <= it.tolerance + 1e-9 * max(1.0, abs(computed)), (it.answer, computed)
    assert check_answer(it, repr(computed)), computed


def shape_key(item_id, computed):
    it = item(item_id)
    assert it.kind == "shape"
    assert list(it.answer) == list(computed)


def train_linreg(seed=0, lr=0.03, broken=False, epochs=3, batch_size=10, n=1000):
    """The book's scratch linear regression (3.2), with the squared loss optionally broken by broadcasting."""
    g = torch.Generator().manual_seed(seed)
    X = torch.normal(0.0, 1.0, (n, 2), generator=g)
    y = (X @ torch.tensor(TRUE_W) + TRUE_B + torch.normal(0.0, 0.01, (n,), generator=g)).reshape(-1, 1)
    w = torch.normal(0.0, 0.01, (2, 1), generator=g).requires_grad_()
    b = torch.zeros(1, requires_grad=True)

    def loss(y_hat, target):
        return (y_hat - (target.view(-1) if broken else target.view(y_hat.shape))) ** 2 / 2

    for _ in range(epochs):
        order = torch.randperm(n, generator=g)
        for i in range(0, n, batch_size):
            j = order[i : i + batch_size]
            loss(X[j] @ w + b, y[j]).sum().backward()
            with torch.no_grad():
                for param in (w, b):
                    param -= lr * param.grad / batch_size
                    param.grad.zero_()
    with torch.no_grad():
        final = loss(X @ w + b, y).mean().item()
    return w.detach().flatten().tolist(), b.item(), final, (X, y)


# ---------------------------------------------------------------- linear regression


def test_mm_vs_mul():
    A = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert torch.equal(torch.mm(A, A), torch.tensor([[7.0, 10.0], [15.0, 22.0]]))
    assert torch.equal(torch.mul(A, A), A * A) and torch.equal(torch.mul(A, A), A**2)
    assert torch.mul(A, torch.tensor([1.0, 10.0])).shape == (2, 2)  # broadcasts
    assert key_text("mm-vs-mul").startswith("torch.mm is a matrix product")


def test_manual_seed_replays_the_same_numbers():
    torch.manual_seed(1)
    a = torch.randn(3)
    torch.manual_seed(1)
    b = torch.randn(3)
    assert torch.equal(a, b)
    assert "reproduced" in key_text("manual-seed")


def test_gradients_accumulate_without_zero_grad():
    x = torch.tensor(2.0, requires_grad=True)
    (x**2).backward()
    (x**2).backward()
    assert x.grad.item() == 8.0
    assert "pile up" in key_text("zero-grad")


def data_iter(batch_size, n):
    indices = list(range(n))
    for i in range(0, n, batch_size):
        yield i, indices[i : min(i + batch_size, n)]


def test_data_iter_batch_starts():
    starts = [i for i, _ in data_iter(4, 20)]
    assert starts == [0, 4, 8, 12, 16]
    assert [int(s) for s in key_text("data-iter-starts").split(",")] == starts


def test_data_iter_last_batch():
    number_key("data-iter-last-batch", [len(batch) for _, batch in data_iter(4, 22)][-1])


def test_short_last_batch_takes_half_a_step():
    w = torch.tensor([1.0], requires_grad=True)
    X, y = torch.tensor([[1.0], [2.0]]), torch.tensor([3.0, 5.0])
    ((X @ w - y) ** 2 / 2).sum().backward()
    book_step = w.grad / 4  # the book divides by batch_size = 4
    w.grad = None
    ((X @ w - y) ** 2 / 2).mean().backward()
    assert torch.allclose(book_step, w.grad / 2)
    assert key_text("last-batch-step").startswith("The step is half")


def test_view_shapes():
    y = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0, 7.0, 8.0])
    shape_key("view-flat-shape", y.view(-1).shape)
    shape_key("view-column-shape", y.view(-1, 1).shape)
    assert y.view(7, 1).shape == y.view(-1, 1).shape


def parse_shapes(text):
    return [tuple(int(n) for n in m) for m in re.findall(r"(\d+)x(\d+)", text)]


def test_quiz1_parameter_shapes():
    working = []
    for choice_id, text in choices_en("quiz1-param-shapes").items():
        (w_shape, b_shape) = parse_shapes(text)
        ok = True
        for batch in (7, 100):  # parameter shapes may not depend on the batch
            try:
                ok &= (torch.randn(batch, 8) @ torch.randn(w_shape) + torch.zeros(b_shape)).shape == (
                    batch,
                    1,
                )
            except RuntimeError:
                ok = False
        if ok:
            working.append(choice_id)
    assert working == [item("quiz1-param-shapes").answer]


def test_quiz2_which_loss_line_broadcasts():
    n = 10
    y_hat, y = torch.randn(n, 1), torch.randn(n)
    broken = []
    for choice_id, text in choices_en("quiz2-broadcast-loss").items():
        expression = text.removeprefix("return ")
        ast.parse(expression, mode="eval")
        value = eval(
            expression, {}, {"y_hat": y_hat, "y": y}
        )  # the quiz's own candidate lines, from our content file
        if value.numel() != n:
            broken.append(choice_id)
    assert broken == [item("quiz2-broadcast-loss").answer]


def test_why_reshape_y():
    shape_key("why-reshape-y", (torch.zeros(10, 1) - torch.zeros(10).view(-1)).shape)


def test_quiz2_broken_loss_stalls_far_from_the_truth():
    for seed in range(3):
        w, b, loss, (_, y) = train_linreg(seed=seed, broken=True)
        assert max(abs(a - t) for a, t in zip(w, TRUE_W, strict=True)) > 1.5
        assert all(abs(v) < 1.0 for v in w)  # w stays near zero, like the course's [0.13, -0.28]
        assert abs(b - y.mean().item()) < 0.5  # only the bias learns: it moves to the mean label
        assert 5.0 < loss < 10.0  # "several units", the course measured about 6.6
    w, _, loss, _ = train_linreg(seed=0)
    assert max(abs(a - t) for a, t in zip(w, TRUE_W, strict=True)) < 0.01 and loss < 1e-3
    assert "[0.13, -0.28]" in key_text("quiz2-broadcast-effect")


def test_quiz3_batch_loss():
    y_hat = torch.tensor([2.33, 1.07, 1.23], dtype=torch.float64)
    y = torch.tensor([3.14, 0.98, 1.32], dtype=torch.float64)
    loss = ((y_hat - y) ** 2 / 2).mean().item()
    assert abs(loss - 0.11205) < 1e-9
    number_key("quiz3-batch-loss", loss)
    assert not check_answer(item("quiz3-batch-loss"), str(2 * loss))  # forgot the 1/2


def test_float64_features_refuse_float32_weights():
    import numpy as np

    features = torch.from_numpy(np.random.default_rng(0).normal(0, 1, (5, 2)))
    assert features.dtype == torch.float64
    with pytest.raises(RuntimeError, match="dtype"):
        torch.mm(features, torch.normal(0, 0.01, (2, 1)))
    assert torch.mm(features.float(), torch.normal(0, 0.01, (2, 1))).dtype == torch.float32
    assert "same dtype" in key_text("float64-trap")


def test_analytic_and_numerical_solutions_agree():
    w, b, _, (X, y) = train_linreg(seed=1)
    design = torch.cat([X, torch.ones(len(X), 1)], dim=1).double()
    exact = torch.linalg.lstsq(design, y.double()).solution.flatten().tolist()  # the closed form
    assert max(abs(a - e) for a, e in zip([*w, b], exact, strict=True)) < 0.01
    assert item("analytic-vs-numerical").answer == "a"
    assert item("minibatch-sgd").answer == "b"


def test_learning_rate_extremes():
    w, _, loss, _ = train_linreg(lr=0.001)
    assert math.isfinite(loss) and loss > 1.0
    assert 0.3 < max(abs(a - t) for a, t in zip(w, TRUE_W, strict=True)) < 3.4
    assert key_text("linreg-lr-small").startswith("Still on its way")
    w, _, loss, _ = train_linreg(lr=3)
    assert not math.isfinite(loss) or loss > 1e6
    assert "diverges" in key_text("linreg-lr-large")


# ---------------------------------------------------------------- softmax


def test_softmax_parameter_shapes():
    X, W, b = torch.randn(5, 4), torch.randn(4, 3), torch.zeros(1, 3)
    assert (X @ W + b).shape == (5, 3)
    shape_key("softmax-weight-shape", W.shape)
    shape_key("softmax-bias-shape", b.shape)


Y_HAT = torch.tensor([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
Y = torch.tensor([0, 2])


def test_gather_picks_the_true_class():
    picked = Y_HAT.gather(1, Y.view(-1, 1))
    matches = [
        cid
        for cid, text in choices_en("gather-picks").items()
        if torch.tensor(ast.literal_eval(text)).shape == picked.shape
        and torch.allclose(torch.tensor(ast.literal_eval(text)), picked)
    ]
    assert matches == [item("gather-picks").answer]


def test_accuracy_example():
    assert Y_HAT.argmax(dim=1).tolist() == [2, 2]
    number_key("accuracy-example", (Y_HAT.argmax(dim=1) == Y).float().mean().item())


def test_quiz4_softmax_shift():
    target = torch.softmax(torch.tensor([100.0, 101.0, 102.0]), 0)
    equal = []
    for choice_id, text in choices_en("quiz4-softmax-shift").items():
        logits = torch.tensor(
            ast.literal_eval(text.removeprefix("softmax(").removesuffix(")")), dtype=torch.float32
        )
        if torch.allclose(torch.softmax(logits, 0), target, atol=1e-6):
            equal.append(choice_id)
    assert equal == [item("quiz4-softmax-shift").answer]


def test_naive_softmax_overflows():
    assert math.isfinite(torch.exp(torch.tensor(50.0)).item())
    assert abs(torch.exp(torch.tensor(50.0)).item() / 5.2e21 - 1) < 0.01
    assert torch.isinf(torch.exp(torch.tensor(1000.0)))
    assert torch.isinf(torch.exp(torch.tensor(89.0))) and not torch.isinf(torch.exp(torch.tensor(88.0)))
    o = torch.tensor([1000.0, 1001.0])
    assert torch.isnan(torch.exp(o) / torch.exp(o).sum()).all()
    assert torch.allclose(torch.softmax(o, 0), torch.tensor([0.2689, 0.7311]), atol=1e-4)
    assert "exp(1000) overflows" in key_text("naive-softmax-overflow")


def test_log_zero_in_cross_entropy():
    p = torch.tensor([[1.0, 0.0]], requires_grad=True)
    loss = -torch.log(p.gather(1, torch.tensor([[1]])))
    assert torch.isinf(loss).all()
    loss.sum().backward()
    assert not torch.isfinite(p.grad).all()
    assert torch.allclose(torch.log_softmax(torch.tensor([0.0, 200.0]), 0), torch.tensor([-200.0, 0.0]))
    assert math.isfinite(F.cross_entropy(torch.tensor([[0.0, 200.0]]), torch.tensor([0])).item())
    assert key_text("log-zero-cross-entropy").startswith("log(0) = -inf")


def test_cross_entropy_uses_only_the_true_class():
    probs = torch.tensor([0.1, 0.3, 0.6])
    swapped = torch.tensor([0.3, 0.1, 0.6])
    one_hot = F.one_hot(torch.tensor(2), 3).float()
    ce = -(one_hot * probs.log()).sum()
    assert torch.isclose(ce, -(one_hot * swapped.log()).sum())
    number_key("cross-entropy-value", ce.item())
    assert key_text("cross-entropy-true-class").startswith("Only the probability")


def test_myth_scaling_changes_softmax():
    small = torch.softmax(torch.tensor([1.0, 2.0, 3.0]), 0)
    large = torch.softmax(torch.tensor([2.0, 4.0, 6.0]), 0)
    assert torch.allclose(small, torch.tensor([0.090, 0.245, 0.665]), atol=6e-4)
    assert torch.allclose(large, torch.tensor([0.016, 0.117, 0.867]), atol=6e-4)
    assert not torch.allclose(small, large, atol=0.01)
    assert torch.allclose(torch.softmax(torch.tensor([1.0, 2.0, 3.0]) + 7, 0), small)  # adding is harmless
    assert key_text("myth-weight-scaling").startswith("No")
    explanation = plain(item("myth-weight-scaling").explanation.en)
    assert "[0.090, 0.245, 0.665]" in explanation and "[0.016, 0.117, 0.867]" in explanation
    number_key("scaled-softmax-top", large.max().item())


def test_port_lr_double_division():
    torch.manual_seed(0)
    X, y, W = torch.randn(256, 5), torch.randint(0, 3, (256,)), torch.zeros(5, 3, requires_grad=True)
    F.cross_entropy(X @ W, y, reduction="mean").backward()
    port_step = 0.5 * W.grad / 256
    W.grad = None
    F.cross_entropy(X @ W, y, reduction="sum").backward()
    book_step = 0.5 * W.grad / 256
    assert torch.allclose(port_step * 256, book_step, atol=1e-7)
    assert torch.allclose(100 * W.grad / 256 / 256 * 256, 100 * W.grad / 256)  # mean loss with lr 100
    assert key_text("port-lr-pitfall").startswith("0.5 / 256")


def test_untrained_accuracy_is_chance():
    from app.training.data.digits import digits

    data = digits()
    X, y = data.X_test.flatten(1), data.y_test
    scores = []
    for seed in range(20):
        W = torch.normal(0.0, 0.01, (X.shape[1], 10), generator=torch.Generator().manual_seed(seed))
        scores.append(((X @ W).argmax(dim=1) == y).float().mean().item())
    number_key("untrained-accuracy", sum(scores) / len(scores))


def run_spec(tmp_path, **spec):
    from tests.training.helpers import last_epoch, run

    events = run(tmp_path, **spec)
    return events[-1].status, (last_epoch(events) if events[-1].status == "done" else None), events


def test_quiz5_train_accuracy_lags_test_accuracy_early(data_dir):
    from tests.training.helpers import of_type

    _, _, events = run_spec(data_dir, **item("quiz5-train-below-test").preset)
    first = of_type(events, "epoch")[0]
    assert first.train_acc < first.test_acc
    assert key_text("quiz5-train-below-test").startswith("The training accuracy is averaged")


def test_softmax_learning_rates(data_dir):
    base = dict(model="softmax", dataset="digits", batch_size=32, epochs=3)
    _, slow, _ = run_spec(data_dir, **base, lr=0.01)
    _, good, _ = run_spec(data_dir, **base, lr=0.5)
    status, _, _ = run_spec(data_dir, **base, lr=10, naive_softmax=True)
    assert good.test_acc > slow.test_acc + 0.05
    assert status == "diverged"
    assert key_text("softmax-lr-compare").startswith("0.01 learns slowly")


# ---------------------------------------------------------------- MLP


def test_quiz6_activation_statements():
    x = torch.linspace(-5, 5, 101)
    assert torch.allclose(torch.tanh(x), 2 * torch.sigmoid(2 * x) - 1, atol=1e-6)
    assert torch.tanh(x).min() < 0 < torch.sigmoid(x).min()  # tanh is zero-centred, sigmoid is not
    # true: stacked linear layers collapse, ReLU does not saturate for x > 0, sigmoid lies in (0, 1)
    z = torch.tensor([1.0, 50.0, 500.0], requires_grad=True)
    torch.relu(z).sum().backward()
    assert torch.equal(z.grad, torch.ones(3))
    assert ((torch.sigmoid(x) > 0) & (torch.sigmoid(x) < 1)).all()
    assert key_text("quiz6-activations").startswith("tanh is just a shifted and scaled sigmoid")
    assert key_text("tanh-from-sigmoid") == "tanh(x)"


def test_quiz7_parameter_counts():
    net = nn.Sequential(nn.Linear(256 * 256, 1000, device="meta"), nn.Linear(1000, 10, device="meta"))
    weights = sum(p.numel() for name, p in net.named_parameters() if name.endswith("weight"))
    number_key("quiz7-weight-count", weights)
    number_key("quiz7-with-biases", sum(p.numel() for p in net.parameters()))
    assert weights == 256 * 256 * 1000 + 1000 * 10 == 65_546_000
    book = nn.Sequential(nn.Linear(784, 256, device="meta"), nn.Linear(256, 10, device="meta"))
    number_key("book-mlp-parameters", sum(p.numel() for p in book.parameters()))


def test_backward_with_weights_is_a_vector_jacobian_product():
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    w = torch.tensor([1.0, 0.1, 0.01])
    (x**2).backward(w)
    via_backward = x.grad.clone()
    x.grad = None
    torch.sum(x**2 * w).backward()
    assert torch.allclose(via_backward, x.grad)
    assert torch.allclose(via_backward, torch.tensor([2.0, 0.4, 0.06]))
    number_key("backward-value", via_backward[-1].item())
    assert "sum(y * w)" in key_text("backward-with-weights")


def test_activation_derivatives():
    x = torch.linspace(-6, 6, 1201, requires_grad=True)
    torch.sigmoid(x).sum().backward()
    s = torch.sigmoid(x.detach())
    assert torch.allclose(x.grad, s * (1 - s), atol=1e-6)
    number_key("sigmoid-max-slope", x.grad.max().item())
    assert x.grad[0] < 0.01 and x.grad[-1] < 0.01  # saturates
    x.grad = None
    torch.tanh(x).sum().backward()
    assert torch.allclose(x.grad, 1 - torch.tanh(x.detach()) ** 2, atol=1e-6)
    assert x.grad.max().item() == pytest.approx(1.0, abs=1e-4)
    assert key_text("sigmoid-derivative") == "s(1 - s)"
    assert key_text("tanh-derivative") == "1 - tanh²(x)"
    assert "vanishes" in key_text("saturation")
    assert key_text("relu-default").startswith("ReLU")


def test_stacked_linear_layers_collapse():
    torch.manual_seed(0)
    first, second = nn.Linear(4, 6), nn.Linear(6, 3)
    merged = nn.Linear(4, 3)
    with torch.no_grad():
        merged.weight.copy_(second.weight @ first.weight)
        merged.bias.copy_(second.weight @ first.bias + second.bias)
    x = torch.randn(8, 4)
    assert torch.allclose(second(first(x)), merged(x), atol=1e-6)
    assert key_text("linear-layers-collapse").startswith("The same as one linear layer")


def test_spiral_exercises(data_dir):
    _, softmax, _ = run_spec(data_dir, **item("linear-layers-collapse").preset)
    _, mlp, _ = run_spec(data_dir, **item("spiral-mlp-vs-softmax").preset)
    _, tiny, _ = run_spec(data_dir, **item("hidden-units-exercise").preset)
    _, sigmoid, _ = run_spec(data_dir, **item("other-activations-exercise").preset)
    assert mlp.test_acc > softmax.test_acc + 0.2
    assert mlp.test_acc > tiny.test_acc + 0.2
    assert mlp.test_acc > sigmoid.test_acc + 0.2
    assert key_text("spiral-mlp-vs-softmax").startswith("The MLP")
    assert key_text("hidden-units-exercise").startswith("Capacity drops")
    assert key_text("other-activations-exercise").startswith("Learning is often slower")
    assert key_text("add-hidden-layer-exercise").startswith("More parameters")


# ---------------------------------------------------------------- check_answer


def all_items():
    return [it for section in load_sections() for it in section.items]


@pytest.mark.parametrize("it", all_items(), ids=lambda it: it.id)
def test_check_answer_accepts_the_key_and_refuses_the_rest(it):
    garbage = ["", " ", "nan", "inf", "abc", "1e400", "0x10", "[]", "()", "x", "🙂", "a" * 500]
    if it.kind in ("choice", "text-choice"):
        assert check_answer(it, it.answer) and check_answer(it, f" {it.answer} ")
        for choice in it.choices:
            if choice.id != it.answer:
                assert not check_answer(it, choice.id)
        assert not check_answer(it, "zz")
    elif it.kind == "number":
        assert check_answer(it, repr(it.answer))
        assert not check_answer(it, repr(it.answer + 10 * it.tolerance + 0.5 * abs(it.answer) + 1))
    else:
        dims = list(it.answer)
        for form in ("x".join(map(str, dims)), ", ".join(map(str, dims)), f"({', '.join(map(str, dims))})"):
            assert check_answer(it, form), form
        assert not check_answer(it, "x".join(map(str, [*dims, 1])))
        assert not check_answer(it, "x".join(map(str, reversed(dims)))) or dims == dims[::-1]
    for text in garbage:
        assert not check_answer(it, text), text
    assert not check_answer(it, None)


def test_check_answer_parsing_details():
    weights = item("quiz7-weight-count")
    assert check_answer(weights, "65546000") and check_answer(weights, "65,546,000")
    assert check_answer(weights, "6.5546e7") and check_answer(weights, "65_546_000")
    assert not check_answer(weights, "65,546,00") and not check_answer(weights, "65546001")
    loss = item("quiz3-batch-loss")
    assert check_answer(loss, "0.112") and check_answer(loss, "0.11205") and not check_answer(loss, "0.11")
    shape = item("softmax-weight-shape")
    for form in ("4x3", "4 x 3", "4×3", "4, 3", "(4, 3)", "[4,3]", "4*3"):
        assert check_answer(shape, form), form
    for form in ("3x4", "4x3x1", "(4, 3]", "4x", "x3", "4.0x3", "-4x3", "four by three"):
        assert not check_answer(shape, form), form
    flat = item("view-flat-shape")
    assert check_answer(flat, "7") and check_answer(flat, "(7,)") and not check_answer(flat, "(7, 1)")
    choice = item("mm-vs-mul")
    assert check_answer(choice, "a") and not check_answer(choice, "A") and not check_answer(choice, "a, b")


# ---------------------------------------------------------------- grade: each unambiguous form, or unreadable

# The answers issue 12 found graded "Not yet" although each means one thing, and the forms its brief lists.
READ_RIGHT = [
    (
        "view-flat-shape",
        ["torch.Size([7])", "(7,)", "[7]", "7", "(7)", "torch.Size((7,))", "（7，）", "Size([7])"],
    ),
    ("view-column-shape", ["7 1", "(7 1)", "[7 1]", "7x1", "7, 1", "torch.Size([7, 1])", "7 × 1"]),
    ("softmax-weight-shape", ["4 3", "[4 3]", "torch.Size([4, 3])", "4x3", "(4, 3)", " 4 ,3 "]),
    (
        "sigmoid-max-slope",
        ["1/4", "25%", "25 %", "0,25", "0.25", ".25", "2.5e-1", "2.5 x 10^-1", "1 / 4", "０.２５"],
    ),
    ("quiz3-batch-loss", ["0,112", "0,11205", "11.205%", "0.112"]),
    ("accuracy-example", ["1/2", "50%", "0,5", "0.5"]),
    ("untrained-accuracy", ["10%", "1/10", "0,1"]),
    (
        "quiz7-weight-count",
        [
            "65 546 000",
            "65,546,000",
            "65546000",
            "65_546_000",
            "65.546.000",
            "65'546'000",
            "6.5546e7",
            "65\u00a0546\u00a0000",
            "65\u202f546\u202f000",
            "6.5546 × 10^7",
            "6.5546*10**7",
        ],
    ),
    ("book-mlp-parameters", ["203 530", "203,530", "203530", "203.530,0"]),
]


@pytest.mark.parametrize(("item_id", "forms"), READ_RIGHT, ids=[item_id for item_id, _ in READ_RIGHT])
def test_every_unambiguous_form_of_the_key_is_right(item_id, forms):
    for form in forms:
        assert grade(item(item_id), form) == "right", form


def test_a_readable_wrong_answer_is_wrong_not_unreadable():
    for item_id, form in [
        ("view-flat-shape", "torch.Size([7, 1])"),
        ("view-column-shape", "7"),
        ("view-column-shape", "1 7"),
        ("sigmoid-max-slope", "1/2"),
        ("sigmoid-max-slope", "2.5%"),
        ("sigmoid-max-slope", "0,3"),
        ("quiz7-weight-count", "65 547 010"),
        ("quiz7-weight-count", "1,234"),  # a thousands separator: 1234, not 1.234
        ("mm-vs-mul", "b"),
    ]:
        assert grade(item(item_id), form) == "wrong", (item_id, form)


def test_what_cannot_be_read_is_unreadable():
    for item_id, form in [
        ("view-flat-shape", "seven"),
        ("view-flat-shape", "torch.Size(7)"),
        ("view-flat-shape", "(7, 1]"),
        ("view-flat-shape", "7.0"),
        ("view-flat-shape", "[[7]]"),
        ("sigmoid-max-slope", "1/0"),
        ("sigmoid-max-slope", "1/4/2"),
        ("sigmoid-max-slope", "quarter"),
        ("sigmoid-max-slope", "%"),
        ("quiz7-weight-count", "7 1"),
        ("quiz7-weight-count", "65,546,00"),
        ("quiz7-weight-count", "65 5460 00"),
        ("quiz7-weight-count", "nan"),
        ("quiz7-weight-count", "1e400"),
        ("mm-vs-mul", "zz"),
        ("mm-vs-mul", "a" * 300),
    ]:
        assert grade(item(item_id), form) == "unreadable", (item_id, form)


def test_the_parsers_read_each_form_to_its_value():
    assert parse_number("1/4") == 0.25 and parse_number("25%") == 0.25 and parse_number("0,25") == 0.25
    assert parse_number("65 546 000") == parse_number("65,546,000") == parse_number("65546000") == 65546000
    assert parse_number("1.234") == 1.234 and parse_number("1.234.567") == 1234567
    assert parse_number("1,234.5") == 1234.5 and parse_number("1 234,5") == 1234.5
    assert parse_number("-3/4") == -0.75 and parse_number("\u22120,5") == -0.5  # the minus sign U+2212
    assert parse_shape("torch.Size([7])") == [7] and parse_shape("7 1") == [7, 1]
    assert parse_shape("torch.Size([])") is None and parse_shape("") is None


def test_the_forms_listed_for_each_kind_are_read_and_answer_no_question():
    forms_of = {
        it.id: answer_form(it) for section in load_sections() for it in section.items if answer_form(it)
    }
    assert set(forms_of.values()) == {"number", "count", "shape"}
    for kind, examples in ACCEPTED_FORMS.items():
        parse = parse_shape if kind == "shape" else parse_number
        for example in examples:
            assert parse(example) is not None, example
        for item_id in (item_id for item_id, form in forms_of.items() if form == kind):
            for example in examples:
                assert grade(item(item_id), example) == "wrong", (
                    item_id,
                    example,
                )  # no example gives it away
