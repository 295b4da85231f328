"""A step by hand in linear regression, on the loss map: the point moves by one SGD step of that very
minibatch, and the snapshot says which way is down from there (the gradient of the map's loss, and the
step -lr x gradient the browser draws as an arrow)."""

import pytest
import torch

from app.training.data import load_dataset
from app.training.events import without_timing
from app.training.models import build_model
from app.training.specs import parse_spec
from app.training.trainer import GO, STEP, minibatches, seed_everything, train

from .helpers import one_thread  # noqa: F401 (autouse)

SPEC = {"model": "linreg", "epochs": 1}  # 100 minibatches of 10; step events at steps 1, 2, 4, 5, 10, ...
TURNS = [GO, GO, STEP, STEP, STEP]  # paused after step 2 (a step event), then three steps by hand


def events_of(data_dir, spec: dict, turns=()) -> list[dict]:
    turns = iter(turns)
    pace = lambda: next(turns, GO)  # noqa: E731
    return [without_timing(e) for e in train(parse_spec(spec), data_dir=data_dir, device="cpu", pace=pace)]


def linear(events: list[dict], by_hand: bool) -> list[dict]:
    return [
        e
        for e in events
        if e["type"] == "snapshot" and e["kind"] == "linear" and e.get("by_hand", False) == by_hand
    ]


def half_squared_loss(X: torch.Tensor, y: torch.Tensor, w: torch.Tensor, b: float) -> torch.Tensor:
    """The book's loss, mean over the examples given, computed the plain way."""
    return ((X.double() @ w + b - y.double().reshape(-1)) ** 2 / 2).mean()


def gradient_of(X, y, w: list[float], b: float) -> torch.Tensor:
    point = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    (gradient,) = torch.autograd.grad(half_squared_loss(X, y, point, b), point)
    return gradient


def the_minibatches(spec: dict, data_dir) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The first epoch's minibatches, drawn as the trainer draws them: same seed, same order of draws."""
    spec = parse_spec(spec)
    generator = seed_everything(spec.seed)
    data = load_dataset(spec, data_dir)
    build_model(spec, data.num_inputs, data.num_outputs, generator, torch.device("cpu"))
    return list(minibatches(data.X_train, data.y_train, spec.batch_size, generator))


@pytest.mark.parametrize("impl", ["scratch", "concise"])
def test_each_step_by_hand_moves_the_point_by_one_sgd_step_of_its_minibatch(data_dir, impl):
    spec = {**SPEC, "impl": impl}
    events = events_of(data_dir, spec, TURNS)
    steps = [e["step"] for e in events if e["type"] == "step" and e.get("by_hand")]
    assert steps == [3, 4, 5]
    regular = {e["step"]: e["data"] for e in linear(events, by_hand=False)}
    points = [e["data"] for e in linear(events, by_hand=True)]
    assert points[0]["w_before"] == regular[2]["w"]  # the first step starts where the path stood
    starts = [regular[2]] + points[:-1]
    batches = the_minibatches(spec, data_dir)
    lr = parse_spec(spec).lr
    for step, start, point in zip(steps, starts, points, strict=True):
        X, y = batches[step - 1]  # step k trains the k-th minibatch
        assert point["w_before"] == start["w"]
        sgd_step = -lr * gradient_of(X, y, start["w"], start["b"])
        moved = torch.tensor(point["w"], dtype=torch.float64) - torch.tensor(start["w"], dtype=torch.float64)
        assert moved.tolist() == pytest.approx(sgd_step.tolist(), abs=3e-5)  # w is shown to 5 decimals


def test_the_gradient_is_the_maps_loss_differentiated_at_the_point_and_points_downhill(data_dir):
    events = events_of(data_dir, SPEC, TURNS)
    data = load_dataset(parse_spec(SPEC), data_dir)
    lr = parse_spec(SPEC).lr
    for point in (e["data"] for e in linear(events, by_hand=True)):
        w, b = point["w"], point["b"]
        expected = gradient_of(data.X_train, data.y_train, w, b)
        assert point["gradient"] == pytest.approx(expected.tolist(), abs=1e-5)
        assert point["next_step"] == pytest.approx((-lr * expected).tolist(), abs=1e-6)
        here = torch.tensor(w, dtype=torch.float64)
        ahead = here + torch.tensor(point["next_step"], dtype=torch.float64)
        loss_here, loss_ahead = (half_squared_loss(data.X_train, data.y_train, at, b) for at in (here, ahead))
        assert loss_ahead < loss_here  # the arrow points downhill


def test_each_step_by_hand_redraws_the_map_at_the_current_b_around_the_point(data_dir):
    events = events_of(data_dir, SPEC, TURNS)
    by_hand = [e for e in events if e.get("by_hand")]
    assert [(e["type"], e.get("kind")) for e in by_hand] == [
        ("step", None),
        ("snapshot", "linear"),
        ("snapshot", "landscape"),
    ] * 3
    for point, landscape in zip(by_hand[1::3], by_hand[2::3], strict=True):
        assert landscape["step"] == point["step"] and landscape["data"]["b"] == point["data"]["b"]
        x0, x1, y0, y1 = landscape["data"]["extent"]
        (w1, w2) = point["data"]["w"]
        assert x0 <= w1 <= x1 and y0 <= w2 <= y1


def test_with_b_fixed_the_gradient_is_taken_at_the_maps_b(data_dir):
    spec = {**SPEC, "landscape_fix_b": True, "true_b": 4.2}
    events = events_of(data_dir, spec, TURNS)
    data = load_dataset(parse_spec(spec), data_dir)
    point = linear(events, by_hand=True)[0]["data"]
    assert point["b"] != pytest.approx(4.2, abs=0.5)  # the model's b is still far from it
    at_true_b = gradient_of(data.X_train, data.y_train, point["w"], 4.2)
    assert point["gradient"] == pytest.approx(at_true_b.tolist(), abs=1e-5)
    maps = [e for e in events if e.get("by_hand") and e.get("kind") == "landscape"]
    assert {m["data"]["b"] for m in maps} == {4.2}


def test_a_stepped_linear_regression_keeps_the_events_of_a_run_straight_through(data_dir):
    stepped = events_of(data_dir, SPEC, [GO, STEP, GO, GO, STEP, STEP])  # steps 2 and 5 are step events too
    assert [e for e in stepped if not e.get("by_hand")] == events_of(data_dir, SPEC)


def test_without_a_map_a_step_by_hand_carries_no_arrow(data_dir):
    """One feature: no landscape, so nothing to point along."""
    events = events_of(data_dir, {**SPEC, "true_w": [2.0]}, TURNS)
    points = linear(events, by_hand=True)
    assert len(points) == 3 and all(set(p["data"]) == {"w", "b"} for p in points)
