"""Every dataset a run can train on, loaded by name from a spec."""

from collections.abc import Callable
from pathlib import Path

from ..defaults import auto_dataset_name
from ..specs import LinRegSpec, RunSpec
from . import fashion_mnist
from .dataset import Dataset, DatasetUnavailable
from .digits import digits
from .synthetic import synthetic_linear
from .toy2d import MAKERS as TOY2D_MAKERS
from .toy2d import toy2d

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
    if isinstance(spec, LinRegSpec):
        return synthetic_linear(spec.true_w, spec.true_b, spec.n_examples, spec.noise_std, spec.seed)
    name = resolve_dataset_name(spec, data_dir)
    if name in TOY2D_MAKERS:
        return toy2d(name, spec.n_examples, spec.noise, spec.seed)
    if name == "digits":
        return digits()
    return fashion_mnist.load(data_dir, download=download, on_progress=on_progress)
