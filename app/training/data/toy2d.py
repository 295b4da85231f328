"""Small 2-D classification sets whose decision boundary can be drawn: blobs, spiral, circles, xor."""

import math

import numpy as np
import torch

from .dataset import Dataset

TEST_SHARE = 0.25


def blobs(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Three round clouds around the corners of a triangle: linearly separable when noise is small."""
    centres = np.array([[0.0, 1.0], [-0.9, -0.5], [0.9, -0.5]])
    labels = rng.integers(0, 3, n)
    return centres[labels] + rng.normal(0.0, 0.25 + noise, (n, 2)), labels


def spiral(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Three interleaved arms: no straight line separates them."""
    labels = rng.integers(0, 3, n)
    radius = rng.uniform(0.05, 1.0, n)
    angle = labels * 2 * math.pi / 3 + radius * 4.0 + rng.normal(0.0, noise * 0.5, n)
    points = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    return points, labels


def circles(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A small ring inside a large one."""
    labels = rng.integers(0, 2, n)
    radius = np.where(labels == 0, 1.0, 0.45) + rng.normal(0.0, noise * 0.3, n)
    angle = rng.uniform(0, 2 * math.pi, n)
    return np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1), labels


def xor(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Class 1 where x and y have the same sign: the classic problem one linear layer cannot solve."""
    points = rng.uniform(-1.0, 1.0, (n, 2))
    labels = (points[:, 0] * points[:, 1] > 0).astype(np.int64)
    return points + rng.normal(0.0, noise * 0.2, (n, 2)), labels


MAKERS = {"blobs": blobs, "spiral": spiral, "circles": circles, "xor": xor}
CLASS_NAMES = {
    "blobs": ["A", "B", "C"],
    "spiral": ["A", "B", "C"],
    "circles": ["outer", "inner"],
    "xor": ["0", "1"],
}


def toy2d(name: str, n_examples: int, noise: float, seed: int, test_share: float = TEST_SHARE) -> Dataset:
    """`n_examples` points drawn by `seed`, the last `test_share` of them held out for testing: the
    same arguments always give the same points, and another seed other points."""
    points, labels = MAKERS[name](n_examples, noise, np.random.default_rng(seed))
    X = torch.tensor(points, dtype=torch.float32)
    y = torch.tensor(labels, dtype=torch.int64)
    n_train = n_examples - int(n_examples * test_share)
    return Dataset(
        name=name,
        task="classification",
        X_train=X[:n_train],
        y_train=y[:n_train],
        X_test=X[n_train:],
        y_test=y[n_train:],
        class_names=CLASS_NAMES[name],
    )


def data_seed_of(spec) -> int:
    """The seed that draws a 2-D set's points: the spec's data_seed, or its run seed where that is 0
    (the default), so runs made before Regenerate existed draw the very same points."""
    return spec.data_seed or spec.seed
