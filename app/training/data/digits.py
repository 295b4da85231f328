"""scikit-learn's bundled 8x8 handwritten digits: real images that need no download."""

import numpy as np
import torch
from sklearn.datasets import load_digits

from .dataset import Dataset

TEST_SHARE = 0.2
SPLIT_SEED = 0  # a fixed split, so every run is scored on the same held-out digits


def digits() -> Dataset:
    bunch = load_digits()
    images = torch.tensor(bunch.images / 16.0, dtype=torch.float32).unsqueeze(1)  # (1797, 1, 8, 8) in [0, 1]
    labels = torch.tensor(bunch.target, dtype=torch.int64)
    order = torch.tensor(np.random.default_rng(SPLIT_SEED).permutation(len(labels)))
    n_test = int(len(labels) * TEST_SHARE)
    test, train = order[:n_test], order[n_test:]
    return Dataset(
        name="digits",
        task="classification",
        X_train=images[train],
        y_train=labels[train],
        X_test=images[test],
        y_test=labels[test],
        class_names=[str(d) for d in range(10)],
        image_shape=(8, 8),
    )
