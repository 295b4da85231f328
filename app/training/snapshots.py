"""Pictures of the model's state, as plain numbers the web can draw.

- linear regression: the learned w and b next to the true ones;
- 2-D sets: class probabilities on a grid over the plane (the decision boundary), drawn under the
  training and test points the `started` event's preview carries (at most PREVIEW_POINTS of each);
- image sets: predictions for a fixed handful of test images, and softmax's weights as one image per class.
"""

import torch

from .data import Dataset
from .events import Snapshot

GRID_SIZE = 64
PREVIEW_IMAGES = 24
PREVIEW_POINTS = 300


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


def grid_points(extent: list[float], device: torch.device) -> torch.Tensor:
    """GRID_SIZE x GRID_SIZE points, row by row from the bottom (y_min) up."""
    xs = torch.linspace(extent[0], extent[1], GRID_SIZE, device=device)
    ys = torch.linspace(extent[2], extent[3], GRID_SIZE, device=device)
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
        weights = model.weights()
        return "linear", {"w": rounded(weights["w"][:, 0], 5), "b": rounded(weights["b"], 5)[0]}
    if dataset.image_shape is None:
        probs = torch.softmax(model.forward(grid_points(extent, dataset.X_train.device)).float(), dim=1)
        return "boundary", {"probs": rounded(probs.reshape(GRID_SIZE, GRID_SIZE, -1), 3)}
    n = min(PREVIEW_IMAGES, len(dataset.X_test))
    data = {"predicted": model.forward(dataset.X_test[:n]).argmax(dim=1).tolist()}
    weights = model.weights()
    if "W" in weights:  # softmax: one weight per pixel and class, drawn as ten images
        data["templates"] = rounded(weights["W"].T, 4)
    return "images", data
