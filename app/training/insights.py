"""Seeing inside a run: the loss landscape of linear regression, the health of an MLP's hidden layers,
and a classifier's confusion matrix. Plain tensors in, plain numbers out; the trainer decides when.
"""

import torch

from .data import Dataset
from .snapshots import rounded

LANDSCAPE_SIZE = 41  # grid points per axis
LANDSCAPE_MARGIN = 0.25  # of the span, around what the map must show
LANDSCAPE_LIMIT = 1e6  # the map stops following a path that has run away beyond this


class Landscape:
    """The squared loss of 2-feature linear regression over (w1, w2) for a given b.

    The book's loss is mean((Xw + b - y)^2 / 2). Expanded, it depends on the data only through a few
    averages (X'X/n, X'y/n, mean X, mean y, mean y^2), so a whole grid costs a handful of small tensor
    operations and no pass over the data.
    """

    def __init__(self, data: Dataset, fixed_b: float | None = None):
        X, y = data.X_train.double(), data.y_train.double().reshape(-1)
        n = len(X)
        self.XtX, self.Xty = X.T @ X / n, X.T @ y / n
        self.x_mean, self.y_mean, self.yy = X.mean(dim=0), y.mean(), (y * y).mean()
        self.fixed_b = fixed_b
        ones = torch.ones(n, 1, dtype=X.dtype, device=X.device)
        solution = torch.linalg.lstsq(torch.cat([X, ones], dim=1), y.unsqueeze(1)).solution[:, 0]
        self.best_w, self.best_b = solution[:2], solution[2]
        self.extent: list[float] | None = None
        self.path: list[list[float]] = []

    def follow(self, w: list[float]) -> bool:
        """Add a point of the path; True when the map had to grow to keep it in view."""
        if not all(abs(v) < LANDSCAPE_LIMIT for v in w):  # NaN or runaway: the trainer stops the run
            return False
        self.path.append(w)
        if self.extent is None or not self.covers(w):
            self.fit(self.path)
            return True
        return False

    def loss(self, w: torch.Tensor, b: float) -> torch.Tensor:
        """Loss at each row of w (shape (k, 2)): 0.5 * mean((x.w + b - y)^2), from the averages."""
        quadratic = ((w @ self.XtX) * w).sum(dim=1)
        linear = w @ (2 * b * self.x_mean - 2 * self.Xty)
        return 0.5 * (quadratic + linear + b * b - 2 * b * self.y_mean + self.yy)

    def covers(self, w: list[float]) -> bool:
        x0, x1, y0, y1 = self.extent
        return x0 <= w[0] <= x1 and y0 <= w[1] <= y1

    def fit(self, path: list[list[float]]) -> None:
        """Choose the map's range: the path so far and the best w, with a margin, as a square."""
        points = torch.tensor(path + [self.best_w.tolist()], dtype=torch.float64).clamp(
            -LANDSCAPE_LIMIT, LANDSCAPE_LIMIT
        )
        low, high = points.min(dim=0).values, points.max(dim=0).values
        center, half = (low + high) / 2, ((high - low).max() / 2).clamp(min=0.5)
        half = half * (1 + 2 * LANDSCAPE_MARGIN)
        self.extent = [(center[0] - half).item(), (center[0] + half).item()]
        self.extent += [(center[1] - half).item(), (center[1] + half).item()]

    def grid(self, b: float) -> dict:
        """The snapshot's data: loss on a LANDSCAPE_SIZE^2 grid, row by row from w2 = extent[2] up."""
        b = self.fixed_b if self.fixed_b is not None else b
        x0, x1, y0, y1 = self.extent
        w1 = torch.linspace(x0, x1, LANDSCAPE_SIZE, dtype=torch.float64)
        w2 = torch.linspace(y0, y1, LANDSCAPE_SIZE, dtype=torch.float64)
        rows, cols = torch.meshgrid(w2, w1, indexing="ij")
        points = torch.stack([cols.reshape(-1), rows.reshape(-1)], dim=1).to(self.XtX.device)
        losses = self.loss(points, b).reshape(LANDSCAPE_SIZE, LANDSCAPE_SIZE)
        return {
            "extent": rounded(torch.tensor(self.extent), 5),
            "size": LANDSCAPE_SIZE,
            "b": round(float(b), 5),
            "b_fixed": self.fixed_b is not None,
            "best_w": rounded(self.best_w, 5),
            "loss": rounded(losses, 6),
        }


class LayerProbe:
    """Watches an MLP's hidden layers on the steps the trainer asks about (`active`).

    For each hidden layer: the norm of the gradient of the weights feeding it, the share of saturated
    units (sigmoid or tanh outputs within 2% of their limits, over the batch) and the share of dead
    units (ReLU outputs zero for every example of the batch). Kept as tensors until read, so a probed
    step costs no device sync of its own.
    """

    def __init__(self, activation: str):
        self.activation = activation
        self.active = False
        self.hidden: list[torch.Tensor] = []
        self.grad_norms: list[torch.Tensor] = []

    def saw_hidden(self, H: torch.Tensor) -> None:
        if self.active:
            self.hidden.append(H.detach())

    def saw_grads(self, grads: list[torch.Tensor], batch_size: int = 1) -> None:
        """`batch_size`: what the loss was summed over (scratch sums, concise averages), so both
        report the norm of the mean gradient."""
        if self.active:
            self.grad_norms = [g.norm() / batch_size for g in grads]

    def read(self) -> list[dict] | None:
        """One dict per hidden layer, then forget until the next probed step; None if this step was
        not probed."""
        if not self.hidden:
            self.active = False
            return None
        rows = [
            torch.stack([grad_norm, *self.shares(H)])
            for H, grad_norm in zip(self.hidden, self.grad_norms, strict=True)
        ]
        values = torch.stack(rows).double().cpu().tolist()  # the one device sync of a probed step
        self.hidden, self.grad_norms, self.active = [], [], False
        return health_rows(values)

    def shares(self, H: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return activation_shares(self.activation, H)


def activation_shares(activation: str, H: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(saturated, dead) shares of a hidden layer's outputs H, shaped (..., examples, units): one pair
    per leading index (the cohort trainer passes one layer of many models at once)."""
    zero = torch.zeros(H.shape[:-2], device=H.device)
    if activation == "sigmoid":
        return ((H < 0.02) | (H > 0.98)).float().mean(dim=(-2, -1)), zero
    if activation == "tanh":
        return (H.abs() > 0.96).float().mean(dim=(-2, -1)), zero
    # relu, leaky_relu: units silent on every example
    return zero, (H <= 0).all(dim=-2).float().mean(dim=-1)


def health_rows(values: list[list[float]]) -> list[dict]:
    """A step event's `layers`: one dict per hidden layer from its (grad_norm, saturated, dead)."""
    return [
        {
            "layer": number,
            "grad_norm": float(f"{norm:.4g}"),
            "saturated": round(sat, 4),
            "dead": round(dead, 4),
        }
        for number, (norm, sat, dead) in enumerate(values, start=1)
    ]


def confusion_matrix(predicted: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """counts[true, predicted], summed over the examples; one bincount, no Python loop."""
    return torch.bincount(labels * num_classes + predicted, minlength=num_classes**2).reshape(
        num_classes, num_classes
    )
