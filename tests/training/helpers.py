"""Run a spec to the end and keep its events, and make data files, for the training tests."""

import numpy as np
import pytest
import torch

from app.training.data import fashion_mnist
from app.training.data.idx import write_idx
from app.training.specs import parse_spec
from app.training.trainer import train


def run(data_dir, should_stop=lambda: False, **spec):
    return list(train(parse_spec(spec), data_dir=data_dir, device="cpu", should_stop=should_stop))


def of_type(events, kind):
    return [event for event in events if event.type == kind]


def last_epoch(events):
    return of_type(events, "epoch")[-1]


def snapshots(events, kind):
    """Snapshots of one kind: linear, boundary, images, landscape or confusion."""
    return [event for event in events if event.type == "snapshot" and event.kind == kind]


def write_fashion_like_files(data_dir, n_train: int, n_test: int, seed: int = 0) -> None:
    """Fashion-MNIST's four IDX files, made up: ten classes that share most of their pixels (a common
    'silhouette') and differ in a few, each image showing a random 30% of its class's pixels. Softmax
    regression learns them about as the book's curve on the real set goes: 10% untrained, high 80s
    after 10 epochs."""
    rng = np.random.default_rng(seed)
    shared = rng.random((28, 28)) < 0.3
    templates = (shared | (rng.random((10, 28, 28)) < 0.02)) * 255.0
    folder = fashion_mnist.folder(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("test", n_test)):
        labels = rng.integers(0, 10, n)
        images = templates[labels] * (rng.random((n, 28, 28)) < 0.3)
        images_name, labels_name = fashion_mnist.SPLITS[split]
        write_idx(folder / images_name, images.astype(np.uint8))
        write_idx(folder / labels_name, labels.astype(np.uint8))


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread (autouse in the modules that import it): these models are too small to gain from
    a second, and on a busy 2-core machine two threads mostly wait for each other (the spiral's MLP: 3 s
    on one thread, 26 s on two while other tests ran)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
