"""Every dataset a run can train on, loaded by name from a spec."""

from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from ..defaults import auto_dataset_name
from ..specs import LinRegSpec, RunSpec
from . import fashion_mnist
from .dataset import Dataset, DatasetUnavailable
from .digits import digits
from .synthetic import synthetic_linear
from .toy2d import MAKERS as TOY2D_MAKERS
from .toy2d import TEST_SHARE as TOY2D_TEST_SHARE
from .toy2d import data_seed_of, toy2d

__all__ = [
    "Dataset",
    "DatasetUnavailable",
    "auto_dataset",
    "load_dataset",
    "resolve_dataset_name",
    "DATASETS",
]

DATASETS = {
    "synthetic-linear": "the book's y = Xw + b + noise (regression)",
    "fashion-mnist": "70,000 28x28 clothing images, 10 classes (downloaded once)",
    "digits": "1,797 8x8 handwritten digits shipped with scikit-learn (offline)",
    "blobs": "three 2-D clouds (softmax can separate them)",
    "spiral": "three 2-D spiral arms (needs an MLP)",
    "circles": "a 2-D ring inside a ring (needs an MLP)",
    "xor": "2-D points labelled by the sign of x*y (needs an MLP)",
}


def auto_dataset(data_dir: str | Path) -> str:
    """What 'auto' stands for here: Fashion-MNIST when its files are on disk, else the offline digits.
    Pass it to parse_spec(auto_dataset=...) so a spec names the dataset it trains, with its defaults."""
    return auto_dataset_name(fashion_mnist.is_on_disk(data_dir))


def resolve_dataset_name(spec: RunSpec, data_dir: Path) -> str:
    """The spec's dataset, with 'auto' resolved by auto_dataset (a spec parsed without auto_dataset)."""
    return auto_dataset(data_dir) if spec.dataset == "auto" else spec.dataset


def load_dataset(
    spec: RunSpec,
    data_dir: Path,
    *,
    download: bool = True,
    on_progress: Callable[[str, int, int | None], None] | None = None,
) -> Dataset:
    """Build or read the spec's dataset on the CPU; the caller moves it to the run's device once."""
    if isinstance(spec, LinRegSpec):  # made in a blink, and of the spec's own numbers: never kept
        return synthetic_linear(spec.true_w, spec.true_b, spec.n_examples, spec.noise_std, spec.seed)
    name = resolve_dataset_name(spec, data_dir)
    if name in TOY2D_MAKERS:
        key = toy2d_key(name, spec)
        found = LOADED.get(key)
        if found is None:
            made = toy2d(name, spec.n_examples, spec.noise, data_seed_of(spec), spec.test_share)
            found = LOADED.keep(key, made)
        return found
    if name == "digits":
        return LOADED.get(("digits",)) or LOADED.keep(("digits",), digits())
    key = ("fashion-mnist", str(data_dir))
    found = LOADED.get(key)
    if found is None:
        found = LOADED.keep(key, fashion_mnist.load(data_dir, download=download, on_progress=on_progress))
    return found


def toy2d_key(name: str, spec: RunSpec) -> tuple:
    """What tells one kept 2-D set from another: its points (name, size, noise, the seed that drew
    them), then its split where that is not the usual one (so the usual split keeps its short key)."""
    key = (name, spec.n_examples, spec.noise, data_seed_of(spec))
    return key if spec.test_share == TOY2D_TEST_SHARE else (*key, spec.test_share)


class LoadedDatasets:
    """The datasets this process has loaded, newest last, within `limit_bytes` of tensors: the second run
    on Fashion-MNIST in a worker skips parsing and converting 70,000 images. Runs only read a dataset
    (the trainer moves it to its device as a copy, or uses it as is on the CPU), so one copy serves all."""

    def __init__(self, limit_bytes: int):
        self.limit_bytes = limit_bytes
        self.kept: OrderedDict[tuple, Dataset] = OrderedDict()

    def get(self, key: tuple) -> Dataset | None:
        if key in self.kept:
            self.kept.move_to_end(key)
        return self.kept.get(key)

    def keep(self, key: tuple, dataset: Dataset) -> Dataset:
        self.kept[key] = dataset
        while len(self.kept) > 1 and sum(map(size_in_bytes, self.kept.values())) > self.limit_bytes:
            self.kept.popitem(last=False)  # the least recently used goes first
        return dataset


def size_in_bytes(dataset: Dataset) -> int:
    tensors = (dataset.X_train, dataset.y_train, dataset.X_test, dataset.y_test)
    return sum(t.element_size() * t.nelement() for t in tensors)


LOADED = LoadedDatasets(limit_bytes=1 << 30)  # Fashion-MNIST as float32 is about 220 MB
