"""The network drawn neuron by neuron: the `neurons` snapshot of an MLP on a 2-D set."""

import pytest
import torch

from app.training.data import load_dataset
from app.training.models import build_model
from app.training.models.mlp import ACTIVATIONS
from app.training.snapshots import MAX_UNITS, NEURON_GRID, grid_extent, neurons_data
from app.training.specs import parse_spec
from app.training.trainer import GO, STEP, train

from .helpers import of_type, run, snapshots

SPIRAL = dict(model="mlp", dataset="spiral", epochs=2, hidden_units=8, hidden_layers=2, neurons=True)


def model_and_extent(data_dir, **settings):
    spec = parse_spec(SPIRAL | settings)
    data = load_dataset(spec, data_dir)
    generator = torch.Generator().manual_seed(spec.seed)
    model = build_model(spec, data.num_inputs, data.num_outputs, generator, torch.device("cpu"))
    return spec, model, grid_extent(data)


def plane(extent):
    """The NEURON_GRID x NEURON_GRID points, bottom row first, written out point by point."""
    x0, x1, y0, y1 = extent
    step_x, step_y = (x1 - x0) / (NEURON_GRID - 1), (y1 - y0) / (NEURON_GRID - 1)
    return torch.tensor(
        [[x0 + col * step_x, y0 + row * step_y] for row in range(NEURON_GRID) for col in range(NEURON_GRID)]
    )


def test_an_mlp_on_a_2d_set_draws_its_units_at_start_after_each_epoch(data_dir):
    events = run(data_dir, **SPIRAL)
    drawings = snapshots(events, "neurons")
    assert [(d.step, d.epoch) for d in drawings] == [(b.step, b.epoch) for b in snapshots(events, "boundary")]
    assert len(drawings) == 1 + SPIRAL["epochs"]
    started = of_type(events, "started")[0]
    for drawing in drawings:
        data = drawing.data
        assert data["sizes"] == [2, 8, 8, started.num_outputs]
        assert data["grid_size"] == NEURON_GRID and data["extent"] == started.preview["extent"]
        assert len(data["layers"]) == 2
        for number, layer in enumerate(data["layers"]):
            assert layer["size"] == 8 and layer["units"] == list(range(8)) and not layer["chosen"]
            assert torch.tensor(layer["maps"]).shape == (8, NEURON_GRID, NEURON_GRID)
            assert torch.tensor(layer["maps"]).min() >= 0  # relu
            assert torch.tensor(layer["incoming"]).shape == (8, 2 if number == 0 else 8)
            assert len(layer["bias"]) == 8
        assert torch.tensor(data["outgoing"]).shape == (started.num_outputs, 8)
        probs = torch.tensor(data["probs"])
        assert probs.shape == (NEURON_GRID, NEURON_GRID, started.num_outputs)
        assert probs.min() >= 0 and probs.max() <= 1
        assert probs.sum(dim=2) == pytest.approx(torch.ones(NEURON_GRID, NEURON_GRID), abs=3e-3)
    assert drawings[-1].data != drawings[0].data  # the units moved with training


@pytest.mark.parametrize("settings", [{}, {"neurons": False}, {"dataset": "digits", "epochs": 1}])
def test_no_drawing_unless_asked_for_on_a_2d_set(data_dir, settings):
    wanted = SPIRAL | settings
    if settings:
        assert not snapshots(run(data_dir, **wanted), "neurons")
    else:
        assert snapshots(run(data_dir, **wanted), "neurons")


def test_off_by_default_and_only_for_the_mlp():
    assert parse_spec({"model": "mlp"}).neurons is False
    assert "neurons" not in parse_spec({"model": "softmax"}).model_dump()


@pytest.mark.parametrize("impl", ["scratch", "concise"])
@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh", "leaky_relu"])
def test_a_units_map_is_its_activation_on_the_grid_points(data_dir, impl, activation):
    spec, model, extent = model_and_extent(data_dir, impl=impl, activation=activation, init_std=0.5)
    data = neurons_data(model, ACTIVATIONS[activation], extent, torch.device("cpu"))
    points = plane(extent)
    with torch.no_grad():
        if impl == "concise":  # the real modules: Flatten, then Linear and activation per hidden layer
            hidden = [model.net[: 3 + 2 * layer](points) for layer in range(spec.hidden_layers)]
        else:
            hidden, H = [], points
            for W, b in model.layers[:-1]:
                H = ACTIVATIONS[activation](H @ W + b)
                hidden.append(H)
        probs = torch.softmax(model.forward(points), dim=1)
    for layer, H in zip(data["layers"], hidden, strict=True):
        for unit, unit_map in zip(layer["units"], layer["maps"], strict=True):
            expected = H[:, unit].reshape(NEURON_GRID, NEURON_GRID)
            peak = expected.abs().max().item()  # 4 significant digits of the unit's largest value
            assert torch.tensor(unit_map) == pytest.approx(expected, abs=6e-4 * peak + 1e-9)
            assert peak == 0 or torch.tensor(unit_map).abs().max() > 0
    assert torch.tensor(data["probs"]) == pytest.approx(probs.reshape(NEURON_GRID, NEURON_GRID, -1), abs=6e-4)


def test_the_weights_drawn_are_the_models_weights(data_dir):
    spec, model, extent = model_and_extent(data_dir, impl="concise")
    data = neurons_data(model, ACTIVATIONS[spec.activation], extent, torch.device("cpu"))
    first, second = model.linears[0], model.linears[1]
    assert torch.tensor(data["layers"][0]["incoming"]) == pytest.approx(first.weight.detach(), abs=6e-5)
    assert torch.tensor(data["layers"][0]["bias"]) == pytest.approx(first.bias.detach(), abs=6e-5)
    assert torch.tensor(data["layers"][1]["incoming"]) == pytest.approx(second.weight.detach(), abs=6e-5)
    assert torch.tensor(data["outgoing"]) == pytest.approx(model.linears[2].weight.detach(), abs=6e-5)


def test_a_wide_layer_shows_the_units_with_the_largest_outgoing_weights(data_dir):
    spec, model, extent = model_and_extent(data_dir, hidden_units=40, init_std=0.3)
    with torch.no_grad():  # make units 5 and 33 of layer 1 the strongest senders, unit 7 the weakest
        model.layers[1][0][5] *= 50
        model.layers[1][0][33] *= 40
        model.layers[1][0][7] = 0
    W2, W3 = (W.detach() for W, _ in model.layers[1:])
    data = neurons_data(model, ACTIVATIONS[spec.activation], extent, torch.device("cpu"))
    first, second = data["layers"]
    for layer, outgoing in ((first, W2), (second, W3)):
        assert layer["chosen"] and layer["size"] == 40 and len(layer["units"]) == MAX_UNITS
        strength = outgoing.abs().sum(dim=1)
        expected = sorted(strength.topk(MAX_UNITS).indices.tolist())
        assert layer["units"] == expected
        assert min(strength[expected]) >= max(strength[[u for u in range(40) if u not in expected]])
        assert len(layer["maps"]) == MAX_UNITS
    assert 5 in first["units"] and 33 in first["units"] and 7 not in first["units"]
    # edges between drawn units only: layer 2's incoming columns are layer 1's drawn units
    expected_incoming = W2[first["units"]][:, second["units"]].T
    assert torch.tensor(second["incoming"]) == pytest.approx(expected_incoming, abs=6e-5)
    assert torch.tensor(data["outgoing"]) == pytest.approx(W3[second["units"]].T, abs=6e-5)


def test_a_step_by_hand_draws_the_units_too(data_dir):
    turns = iter([GO, STEP])
    events = list(train(parse_spec(SPIRAL), data_dir=data_dir, device="cpu", pace=lambda: next(turns, GO)))
    by_hand = [e for e in events if getattr(e, "by_hand", False)]
    assert [(e.type, getattr(e, "kind", None)) for e in by_hand] == [
        ("step", None),
        ("snapshot", "boundary"),
        ("snapshot", "neurons"),
    ]
    assert by_hand[-1].step == 2
