"""The see-inside views: loss landscape, layer health, confusion matrix."""

import pytest
import torch

from app.training.data import load_dataset
from app.training.specs import parse_spec

from .helpers import last_epoch, of_type, run, snapshots


def direct_loss(data, w1: float, w2: float, b: float) -> float:
    """The book's squared loss, mean over the training set, computed the plain way."""
    w = torch.tensor([[w1], [w2]], dtype=torch.float64)
    y_hat = data.X_train.double() @ w + b
    return ((y_hat - data.y_train.double().reshape(y_hat.shape)) ** 2 / 2).mean().item()


def test_the_landscape_is_the_loss_at_every_sampled_point(data_dir):
    spec = {"model": "linreg", "epochs": 2}
    events = run(data_dir, **spec)
    data = load_dataset(parse_spec(spec), data_dir)
    maps = snapshots(events, "landscape")
    assert len(maps) >= 3  # at the start, then after each epoch for the b of that moment
    generator = torch.Generator().manual_seed(0)
    for landscape in maps:
        grid, (x0, x1, y0, y1), size = (
            landscape.data["loss"],
            landscape.data["extent"],
            landscape.data["size"],
        )
        for row, col in torch.randint(0, size, (20, 2), generator=generator).tolist():
            w1, w2 = x0 + (x1 - x0) * col / (size - 1), y0 + (y1 - y0) * row / (size - 1)
            assert grid[row][col] == pytest.approx(
                direct_loss(data, w1, w2, landscape.data["b"]), rel=1e-3, abs=1e-5
            )
    assert maps[-1].data["best_w"] == pytest.approx([2, -3.4], abs=0.01)  # least squares on the data


def test_the_map_keeps_the_whole_path_in_view(data_dir):
    """Too large a learning rate: each step overshoots further, w leaves the map, the map follows."""
    events = run(data_dir, model="linreg", lr=3.0, batch_size=1000, epochs=10)
    path, extents = [], []
    for event in events:
        if event.type == "snapshot" and event.kind == "linear":
            path.append(event.data["w"])
        elif event.type == "snapshot" and event.kind == "landscape":
            x0, x1, y0, y1 = event.data["extent"]
            assert all(x0 <= w1 <= x1 and y0 <= w2 <= y1 for w1, w2 in path)
            extents.append(x1 - x0)
    assert events[-1].status == "diverged"
    assert len(extents) > 4 and max(extents) > 10 * extents[0]  # measured: 5.1 -> 150 in 4 steps


def test_fixing_b_draws_the_map_at_the_true_bias(data_dir):
    events = run(data_dir, model="linreg", epochs=1, landscape_fix_b=True, true_b=4.2)
    assert {m.data["b"] for m in snapshots(events, "landscape")} == {4.2}


def test_sigmoid_layers_starve_the_first_layer_relu_layers_do_not(data_dir):
    """3 hidden layers of 256, the book's init (std 0.01) and batch (256), seed 0, digits, the first step.

    Measured: first/last hidden-layer gradient norm 0.00145 with sigmoid (the gradient shrinks about
    700x on its way down: sigmoid's slope is at most 1/4 and the small weights shrink it further),
    1.22 with ReLU (slope 1 where active), 0.97 with tanh (slope 1 near 0).
    """
    ratios = {}
    for activation in ("sigmoid", "relu", "tanh"):
        events = run(
            data_dir,
            model="mlp",
            dataset="digits",
            hidden_layers=3,
            activation=activation,
            epochs=1,
            batch_size=256,
        )
        first = of_type(events, "step")[0]
        assert first.step == 1 and [layer["layer"] for layer in first.layers] == [1, 2, 3]
        ratios[activation] = first.layers[0]["grad_norm"] / first.layers[-1]["grad_norm"]
    assert ratios["sigmoid"] == pytest.approx(0.00145, rel=0.05)
    assert ratios["relu"] == pytest.approx(1.22, rel=0.05)
    assert ratios["tanh"] == pytest.approx(0.97, rel=0.05)


def test_layer_health_reports_saturation_and_dead_units(data_dir):
    share = {}
    for std in (0.01, 3.0):
        events = run(data_dir, model="mlp", dataset="digits", activation="sigmoid", init_std=std, epochs=1)
        share[std] = of_type(events, "step")[0].layers[0]["saturated"]
    assert share[0.01] == 0 and share[3.0] > 0.5  # measured 0.72: big weights pin sigmoid to 0 or 1
    dying = run(data_dir, model="mlp", dataset="digits", activation="relu", lr=5.0, batch_size=32, epochs=3)
    dead = [layer["dead"] for e in of_type(dying, "step") if e.layers for layer in e.layers]
    assert dead[0] < 0.2 and max(dead) > 0.9  # measured 0.11 -> 1.0: a too large step silences the ReLUs
    assert (
        of_type(run(data_dir, model="mlp", dataset="digits", epochs=1, insights=False), "step")[0].layers
        is None
    )


@pytest.mark.parametrize(("model", "dataset"), [("softmax", "digits"), ("mlp", "blobs")])
def test_the_confusion_matrix_adds_up(data_dir, model, dataset):
    events = run(data_dir, model=model, dataset=dataset, epochs=2)
    started, confusion = events[0], snapshots(events, "confusion")
    assert len(confusion) == 2  # one per epoch
    data = load_dataset(parse_spec({"model": model, "dataset": dataset}), data_dir)
    per_class = torch.bincount(data.y_test, minlength=started.num_outputs).tolist()
    matrix = confusion[-1].data["matrix"]
    assert [sum(row) for row in matrix] == per_class
    diagonal = sum(matrix[k][k] for k in range(len(matrix)))
    assert diagonal / started.n_test == pytest.approx(last_epoch(events).test_acc, abs=1e-9)


def test_the_sigmoid_versus_relu_preset_shows_the_difference(data_dir):
    """The race preset (and the saturation exercise): 3 hidden layers on digits, init std 0.1, lr 0.1,
    batch 32, 10 epochs. Measured: sigmoid 35% test accuracy, ReLU 97%."""
    setup = dict(
        model="mlp", dataset="digits", hidden_layers=3, init_std=0.1, lr=0.1, batch_size=32, epochs=10
    )
    sigmoid = last_epoch(run(data_dir, activation="sigmoid", **setup)).test_acc
    relu = last_epoch(run(data_dir, activation="relu", **setup)).test_acc
    assert sigmoid < 0.6 and relu > 0.95
