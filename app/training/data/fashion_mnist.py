"""Fashion-MNIST: four IDX files, downloaded once into `data_dir/fashion-mnist` and checked by MD5."""

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from app.settings import Settings, get_settings

from .dataset import Dataset, DatasetUnavailable
from .download import DownloadError, ProgressCallback, fetch_file
from .idx import read_idx

FILES = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}
SPLITS = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
CLASS_NAMES = [
    "t-shirt",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle boot",
]
IMAGE_SHAPE = (28, 28)
FETCH_COMMAND = "d2l-playground data fetch fashion-mnist"


def folder(data_dir: str | Path) -> Path:
    """Where the four files live."""
    return Path(data_dir) / "fashion-mnist"


def is_on_disk(data_dir: str | Path) -> bool:
    """Whether all four files are present (their checksums were verified when they were fetched)."""
    return all((folder(data_dir) / name).is_file() for name in FILES)


def fetch(
    settings: Settings,
    on_progress: ProgressCallback | None = None,
    *,
    checksums: Mapping[str, str] = FILES,
) -> Path:
    """Download each missing file from the configured mirrors, verified by MD5; return the folder."""
    target = folder(settings.data_dir)
    target.mkdir(parents=True, exist_ok=True)
    for name, md5 in checksums.items():
        if (target / name).is_file():
            continue
        try:
            fetch_file(
                name,
                md5,
                settings.fashion_mnist_mirrors,
                target,
                timeout=settings.download_timeout_s,
                on_progress=on_progress,
            )
        except DownloadError as error:
            raise DownloadError(
                f"{error}\n{_needed_files(target)} Other mirrors can be set in "
                "PLAYGROUND_FASHION_MNIST_MIRRORS.",
                error.code,
                **error.values,
            ) from error
    return target


def fetch_reporting(checksums_json: str = "") -> int:
    """`fetch` for a parent process that must not import torch (the web's download button runs this
    in a child process): one JSON line per event on stdout, `progress` (file, its number and the count,
    bytes done and total), then `done` or `failed` (the error's code, values and English message;
    code `cannot_write` when the folder cannot be written).
    `checksums_json` replaces the official checksums (tests serve files of their own); exit code 0 or 1."""
    checksums = json.loads(checksums_json) if checksums_json else FILES
    numbers = {name: number for number, name in enumerate(checksums, start=1)}

    def report(**event) -> None:
        print(json.dumps(event), flush=True)

    def progress(name: str, done: int, total: int | None) -> None:
        report(type="progress", file=name, number=numbers[name], count=len(numbers), done=done, total=total)

    target = folder(get_settings().data_dir)
    try:
        fetch(get_settings(), progress, checksums=checksums)
    except DownloadError as error:
        report(type="failed", code=error.code, values=error.values, message=str(error))
        return 1
    except OSError as error:  # the folder cannot be made or written (read-only, full, not ours)
        message = f"cannot write into {target}: {type(error).__name__}: {error}"
        report(type="failed", code="cannot_write", values={"folder": str(target)}, message=message)
        return 1
    report(type="done", folder=str(target))
    return 0


def load(
    data_dir: str | Path,
    *,
    download: bool = False,
    settings: Settings | None = None,
    on_progress: ProgressCallback | None = None,
) -> Dataset:
    """The train and test splits as float32 (n, 1, 28, 28) images in [0, 1] and int64 labels."""
    if not is_on_disk(data_dir):
        if not download:
            raise DatasetUnavailable(
                f"Fashion-MNIST is not on disk. {_needed_files(folder(data_dir))} "
                f"Run `{FETCH_COMMAND}` to download them."
            )
        settings = (settings or get_settings()).model_copy(update={"data_dir": Path(data_dir)})
        fetch(settings, on_progress=on_progress)
    X_train, y_train = _read_split(folder(data_dir), "train")
    X_test, y_test = _read_split(folder(data_dir), "test")
    return Dataset(
        name="fashion-mnist",
        task="classification",
        X_train=X_train,
        y_train=y_train,
        X_test=X_test,
        y_test=y_test,
        class_names=list(CLASS_NAMES),
        image_shape=IMAGE_SHAPE,
    )


def _read_split(where: Path, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(images, labels) of one split, checked to agree with each other."""
    images_path, labels_path = (where / name for name in SPLITS[split])
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
        raise ValueError(f"{images_path}: expected uint8 images of shape (n, 28, 28), got {images.shape}")
    if labels.ndim != 1:
        raise ValueError(f"{labels_path}: expected one label per image, got shape {labels.shape}")
    if len(images) != len(labels):
        raise ValueError(f"{images_path} holds {len(images)} images but {labels_path} {len(labels)} labels")
    if len(labels) and not 0 <= labels.min() <= labels.max() < len(CLASS_NAMES):
        raise ValueError(f"{labels_path}: labels must lie in 0..{len(CLASS_NAMES) - 1}")
    pixels = torch.from_numpy(images).unsqueeze(1).float().div_(255)  # like ToTensor: (n, 1, 28, 28)
    return pixels, torch.from_numpy(labels.astype(np.int64))


def _needed_files(target: Path) -> str:
    return f"Fashion-MNIST needs these four files in {target}: {', '.join(FILES)}."
