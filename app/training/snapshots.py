"""Pictures of the model's state, as plain numbers the web can draw.

- linear regression: the learned w and b next to the true ones; after a step by hand also the gradient
  of the loss map at w and the step -lr x gradient it points along (drawn as an arrow on the map);
- 2-D sets: class probabilities on a grid over the plane (the decision boundary), drawn under the
  training and test points the `started` event's preview carries (at most PREVIEW_POINTS of each);
- image sets: predictions for a fixed handful of test images, and softmax's weights as one image per class;
- an MLP on a 2-D set (its `neurons` switch on): each hidden unit's activation over a coarse grid of the
  same plane, with the weights between the units drawn (the network, neuron by neuron).
"""

import numpy as np
import torch

from .data import Dataset
from .events import Snapshot

GRID_SIZE = 64
PREVIEW_IMAGES = 24
PREVIEW_POINTS = 300
NEURON_GRID = 24  # coarse: up to 16 units a layer, each a small map
MAX_UNITS = 16  # units drawn per hidden layer; a wider layer shows those with the largest outgoing weights


def rounded(tensor: torch.Tensor, digits: int = 4) -> list:
    return torch.round(tensor.double().cpu(), decimals=digits).tolist()  # float64: short decimals in JSON


def grid_extent(dataset: Dataset) -> list[float]:
    """[x_min, x_max, y_min, y_max] around all points, with a margin."""
    points = torch.cat([dataset.X_train, dataset.X_test])
    low, high = points.min(dim=0).values, points.max(dim=0).values
    margin = (high - low) * 0.1
    return rounded(
        torch.stack([low[0] - margin[0], high[0] + margin[0], low[1] - margin[1], high[1] + margin[1]])
    )


def grid_points(extent: list[float], device: torch.device, size: int = GRID_SIZE) -> torch.Tensor:
    """size x size points, row by row from the bottom (y_min) up."""
    xs = torch.linspace(extent[0], extent[1], size, device=device)
    ys = torch.linspace(extent[2], extent[3], size, device=device)
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([grid_x.reshape(-1), grid_y.reshape(-1)], dim=1)


def preview(dataset: Dataset) -> dict:
    """The data to draw once, in the `started` event."""
    if dataset.task == "regression":
        n = min(PREVIEW_POINTS, len(dataset.X_train))
        return {"kind": "scatter", "X": rounded(dataset.X_train[:n]), "y": rounded(dataset.y_train[:n, 0])}
    if dataset.image_shape is None:
        n = min(PREVIEW_POINTS, len(dataset.X_test))
        n_train = min(PREVIEW_POINTS, len(dataset.X_train))
        extent = grid_extent(dataset)
        return {
            "kind": "points",
            "X": rounded(dataset.X_test[:n]),
            "labels": dataset.y_test[:n].tolist(),
            "X_train": rounded(dataset.X_train[:n_train]),
            "labels_train": dataset.y_train[:n_train].tolist(),
            "extent": extent,
            "grid_size": GRID_SIZE,
        }
    n = min(PREVIEW_IMAGES, len(dataset.X_test))
    pixels = (dataset.X_test[:n].reshape(n, -1) * 255).round().to(torch.uint8)
    return {
        "kind": "images",
        "shape": list(dataset.image_shape),
        "pixels": pixels.tolist(),
        "labels": dataset.y_test[:n].tolist(),
    }


def snapshot(model, dataset: Dataset, extent: list[float] | None, step: int, epoch: int) -> Snapshot:
    kind, data = snapshot_data(model, dataset, extent)
    return Snapshot(step=step, epoch=epoch, kind=kind, data=data)


@torch.no_grad()
def snapshot_data(model, dataset: Dataset, extent: list[float] | None) -> tuple[str, dict]:
    """(kind, data) for this model on this dataset right now."""
    if dataset.task == "regression":
        return "linear", linear_data(model)
    if dataset.image_shape is None:
        probs = torch.softmax(model.forward(grid_points(extent, dataset.X_train.device)).float(), dim=1)
        return "boundary", {"probs": rounded(probs.reshape(GRID_SIZE, GRID_SIZE, -1), 3)}
    n = min(PREVIEW_IMAGES, len(dataset.X_test))
    data = {"predicted": model.forward(dataset.X_test[:n]).argmax(dim=1).tolist()}
    weights = model.weights()
    if "W" in weights:  # softmax: one weight per pixel and class, drawn as ten images
        data["templates"] = rounded(weights["W"].T, 4)
    return "images", data


@torch.no_grad()
def linear_data(model) -> dict:
    """The `linear` snapshot: w and b, as the landscape's path and the picture show them."""
    weights = model.weights()
    return {"w": rounded(weights["w"][:, 0], 5), "b": rounded(weights["b"], 5)[0]}


def downhill(landscape, w: list[float], b: float, lr: float) -> dict:
    """Which way is down on the loss map (an insights.Landscape) at the point w: the gradient of the
    map's loss (the whole training set's mean squared loss, at the map's b) with respect to (w1, w2), by
    autograd, and the step -lr x gradient that gradient descent would take from w. A minibatch's step
    is this one give or take the minibatch's noise."""
    b = landscape.fixed_b if landscape.fixed_b is not None else b
    with torch.enable_grad():
        point = torch.tensor([w], dtype=torch.float64, device=landscape.XtX.device, requires_grad=True)
        (gradient,) = torch.autograd.grad(landscape.loss(point, b).sum(), point)
    return {"gradient": gradient[0].tolist(), "next_step": (-lr * gradient[0]).tolist()}


def significant(maps: torch.Tensor, digits: int = 4) -> list:
    """Each map rounded to `digits` significant digits of its own largest value: a unit of a freshly
    initialised deep layer may never pass 1e-4, and its shape must still show."""
    maps = maps.double().cpu().numpy()  # numpy: torch.round without `decimals` takes ~1 ms on a CPU here
    peak = np.abs(maps).max(axis=(1, 2), keepdims=True)
    scale = 10.0 ** (digits - 1 - np.floor(np.log10(np.where(peak > 0, peak, 1.0))))
    return (np.round(maps * scale) / scale).tolist()


def hidden_weights(model) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Each layer's (W, b) with W shaped (inputs, outputs), for the scratch MLP and the concise one."""
    if hasattr(model, "linears"):  # nn.Linear keeps its weight as (outputs, inputs)
        return [(linear.weight.detach().T, linear.bias.detach()) for linear in model.linears]
    return [(W.detach(), b.detach()) for W, b in model.layers]


def drawn_units(outgoing: torch.Tensor) -> tuple[list[int], bool]:
    """Which units of a layer to draw, in their order, and whether that is a choice among more: all when
    the layer has at most MAX_UNITS, else those whose outgoing weights weigh most (sum of magnitudes)."""
    size = outgoing.shape[0]
    if size <= MAX_UNITS:
        return list(range(size)), False
    strongest = outgoing.abs().sum(dim=1).topk(MAX_UNITS).indices
    return sorted(strongest.tolist()), True


@torch.no_grad()
def neurons_data(model, activation, extent: list[float], device: torch.device) -> dict:
    """The `neurons` snapshot: each drawn hidden unit's activation at every point of a NEURON_GRID x
    NEURON_GRID grid over the plane (rows from the bottom up, as `boundary`), the weights into each drawn
    unit from the drawn units before it (the inputs x1, x2 for the first layer), the weights from the last
    drawn units to the outputs, and the output's class probabilities on the same grid."""
    layers = hidden_weights(model)
    H = grid_points(extent, device, NEURON_GRID)
    previous = list(range(H.shape[1]))  # the inputs: all drawn
    drawn_layers = []
    for (W, b), (W_next, _) in zip(layers[:-1], layers[1:], strict=True):
        H = activation(H @ W + b)
        units, chosen = drawn_units(W_next)
        maps = H[:, units].T.reshape(len(units), NEURON_GRID, NEURON_GRID)
        drawn_layers.append(
            {
                "size": W.shape[1],
                "units": units,
                "chosen": chosen,
                "maps": significant(maps),
                "incoming": rounded(W[previous][:, units].T, 4),  # one row per drawn unit
                "bias": rounded(b[units], 4),
            }
        )
        previous = units
    W_out, b_out = layers[-1]
    probs = torch.softmax((H @ W_out + b_out).float(), dim=1)
    return {
        "grid_size": NEURON_GRID,
        "extent": extent,
        "sizes": [layers[0][0].shape[0]] + [W.shape[1] for W, _ in layers],
        "layers": drawn_layers,
        "outgoing": rounded(W_out[previous].T, 4),  # one row per output class
        "probs": rounded(probs.reshape(NEURON_GRID, NEURON_GRID, -1), 3),
    }
