"""The book's synthetic regression data: y = Xw + b + noise, X ~ N(0, 1)."""

import torch

from .dataset import Dataset

HELD_OUT_SHARE = 0.2


def synthetic_linear(
    true_w: list[float], true_b: float, n_examples: int, noise_std: float, seed: int
) -> Dataset:
    """`n_examples` training rows plus a held-out fifth as many, all float32 (see the 3.2 dtype trap)."""
    generator = torch.Generator().manual_seed(seed)
    w = torch.tensor(true_w, dtype=torch.float32)
    n_test = max(1, int(n_examples * HELD_OUT_SHARE))
    X = torch.normal(0.0, 1.0, (n_examples + n_test, len(true_w)), generator=generator)
    y = X @ w + true_b
    y += torch.normal(0.0, noise_std, y.shape, generator=generator)
    y = y.reshape(-1, 1)
    return Dataset(
        name="synthetic-linear",
        task="regression",
        X_train=X[:n_examples],
        y_train=y[:n_examples],
        X_test=X[n_examples:],
        y_test=y[n_examples:],
    )
