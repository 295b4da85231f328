"""Seconds per epoch on Fashion-MNIST: our trainer against the book's data pipeline, in one run.

    python bench/train_speed.py [--epochs N] [--models softmax,mlp] [--quick]

Four ways of running the same model and the same math (d2l 3.6 and 4.2, from scratch) are timed epoch by
epoch, train plus test evaluation:

  book        a Dataset that makes one PIL image per example and converts it like torchvision's ToTensor,
              DataLoader(batch_size=256, shuffled, num_workers=4), the book's train_epoch_ch3 and
              evaluate_accuracy (a float() of the loss and an accuracy per batch); where torchvision is
              installed, also the same with torchvision's own FashionMNIST and ToTensor
  preloaded   the same loop over data preloaded once as one float tensor, indexed batch by batch
  ours        app.training.trainer.train, impl scratch and concise, as the CLI and the web run it
  limit       a lower bound from this machine's measured matmul FLOP/s and memory bandwidth

Each implementation runs in a fresh process, and their epochs are taken in turns (book 1, preloaded 1,
ours 1, ..., book 2, ...): a speed-up is the median of ratios of epochs run back to back, so a slow or
fast spell of a shared machine falls on both sides of each ratio. Only ratios are printed as verdicts;
absolute times depend on the machine.
"""

import argparse
import importlib.util
import itertools
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Sampler
from torch.utils.data import Dataset as TorchDataset

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from app.runs.malloc import reuse_freed_memory  # noqa: E402
from app.settings import get_settings  # noqa: E402
from app.training.data import fashion_mnist  # noqa: E402
from app.training.data.idx import read_idx, write_idx  # noqa: E402
from app.training.models import batched  # noqa: E402
from app.training.specs import parse_spec  # noqa: E402
from app.training.trainer import train  # noqa: E402

SIZES = {"train": 60_000, "test": 10_000}
BATCH_SIZE = 256
NUM_WORKERS = 4
INIT_STD = 0.01
MODELS = {"softmax": ([784, 10], 0.1), "mlp": ([784, 256, 10], 0.5)}  # layer sizes, learning rate
TARGETS = {"softmax": 40.0, "mlp": 15.0}  # speed-up over the book's pipeline the issue asks for
ACC_TOLERANCE = 0.01  # test accuracy within 1 point of the book pipeline's
BOOK, TORCHVISION, PRELOADED = "book pipeline", "book pipeline (torchvision)", "preloaded loop"
OURS = {"ours (scratch)": "scratch", "ours (concise)": "concise"}  # row: our impl


@dataclass
class Result:
    model: str
    implementation: str
    seconds: list[float] = field(default_factory=list)
    test_acc: float | None = None

    @property
    def per_epoch(self) -> float:
        """Median epoch time, leaving out the first (warm-up) epoch when there are more."""
        return statistics.median(self.seconds[1:] or self.seconds)

    def speedup_over(self, baseline: "Result") -> float:
        """Median over the epochs (after the first, when there are more) of baseline / own seconds,
        each ratio from two epochs run back to back."""
        ratios = [theirs / own for theirs, own in zip(baseline.seconds, self.seconds, strict=True)]
        return statistics.median(ratios[1:] or ratios)


# ---------------------------------------------------------------------------------------------------
# Data: the real files if they are on disk, else synthetic ones in the same format


def smooth_prototypes(rng: np.random.Generator, classes: int = 10, blobs: int = 6, size: int = 32):
    """One smooth image per class: a sum of Gaussian blobs, 4 pixels wider than 28 to allow shifts."""
    centres = rng.uniform(4, size - 4, (classes, blobs, 2))
    widths = rng.uniform(2.0, 6.0, (classes, blobs, 1, 1))
    weights = rng.uniform(0.3, 1.0, (classes, blobs, 1, 1))
    grid = np.arange(size)
    dy = grid[None, None, :, None] - centres[..., 0, None, None]
    dx = grid[None, None, None, :] - centres[..., 1, None, None]
    images = (weights * np.exp(-(dy**2 + dx**2) / (2 * widths**2))).sum(axis=1)
    return (images / images.max(axis=(1, 2), keepdims=True)).astype(np.float32)


def synthetic_split(rng: np.random.Generator, prototypes: np.ndarray, n: int, mix=0.6, noise=0.2):
    """n uint8 28x28 images: a shifted, rescaled class prototype blended with another class's, plus noise.

    The blend weight reaches past 0.5 now and then, so some examples look more like the wrong class and
    the task stays as hard as Fashion-MNIST (softmax regression ends near 80%).
    """
    labels = rng.integers(0, 10, n)
    others = (labels + rng.integers(1, 10, n)) % 10
    rows = rng.integers(0, 5, (n, 1)) + np.arange(28)
    cols = rng.integers(0, 5, (n, 1)) + np.arange(28)

    def window(classes):
        return prototypes[classes[:, None, None], rows[:, :, None], cols[:, None, :]]

    blend = rng.uniform(0, mix, (n, 1, 1)).astype(np.float32)
    contrast = rng.uniform(0.6, 1.2, (n, 1, 1)).astype(np.float32)
    pixels = contrast * ((1 - blend) * window(labels) + blend * window(others))
    pixels += rng.normal(0, noise, (n, 28, 28)).astype(np.float32)
    return (np.clip(pixels, 0, 1) * 255).astype(np.uint8), labels.astype(np.uint8)


def write_synthetic(data_dir: Path, seed: int = 0) -> None:
    """Full-size Fashion-MNIST-format files (60,000 + 10,000 images) under data_dir/fashion-mnist."""
    rng = np.random.default_rng(seed)
    prototypes = smooth_prototypes(rng)
    fashion_mnist.folder(data_dir).mkdir(parents=True, exist_ok=True)
    for split, (images_name, labels_name) in fashion_mnist.SPLITS.items():
        images, labels = synthetic_split(rng, prototypes, SIZES[split])
        write_idx(fashion_mnist.folder(data_dir) / images_name, images)
        write_idx(fashion_mnist.folder(data_dir) / labels_name, labels)


def read_split(data_dir: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    images_name, labels_name = fashion_mnist.SPLITS[split]
    images = read_idx(fashion_mnist.folder(data_dir) / images_name)
    labels = read_idx(fashion_mnist.folder(data_dir) / labels_name)
    return images, labels.astype(np.int64)


# ---------------------------------------------------------------------------------------------------
# The book's model and loop, shared by the book pipeline and the preloaded loop


def relu(X: torch.Tensor) -> torch.Tensor:
    """The book's ReLU (d2l 4.2), as our scratch MLP writes it."""
    return torch.max(X, torch.zeros_like(X))


class ScratchNet:
    """(W, b) per layer, ReLU between, W ~ N(0, 0.01^2), b = 0; summed cross-entropy, dividing SGD."""

    def __init__(self, sizes: list[int], lr: float, generator: torch.Generator):
        self.layers = [
            (
                (torch.randn(n_in, n_out, generator=generator) * INIT_STD).requires_grad_(),
                torch.zeros(n_out, requires_grad=True),
            )
            for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True)
        ]
        self.lr = lr

    def params(self) -> list[torch.Tensor]:
        return [p for layer in self.layers for p in layer]

    def __call__(self, X: torch.Tensor) -> torch.Tensor:
        H = X.reshape(-1, self.layers[0][0].shape[0])
        for W, b in self.layers[:-1]:
            H = relu(H @ W + b)
        W, b = self.layers[-1]
        return H @ W + b

    def sgd(self, batch_size: int) -> None:
        with torch.no_grad():
            for param in self.params():
                param -= self.lr * param.grad / batch_size
                param.grad.zero_()


def cross_entropy(scores: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """-log softmax(scores)[y]: each row's max subtracted first, then the true class picked with gather."""
    scores = scores - scores.max(dim=1, keepdim=True).values.detach()
    log_y_hat = scores - torch.log(torch.exp(scores).sum(dim=1, keepdim=True))
    return -log_y_hat.gather(1, y.view(-1, 1)).squeeze(1)


def accuracy(y_hat: torch.Tensor, y: torch.Tensor) -> float:
    return float((y_hat.argmax(dim=1) == y).sum())


def train_epoch(net: ScratchNet, batches) -> None:
    """The book's train_epoch_ch3: a step per batch, loss and accuracy read back each time."""
    metric = np.zeros(3)  # the book's Accumulator: loss sum, correct, examples (read back every batch)
    for X, y in batches:
        y_hat = net(X)
        l = cross_entropy(y_hat, y)  # noqa: E741 (the book's name for the loss)
        l.sum().backward()
        net.sgd(len(X))
        metric += (float(l.detach().sum()), accuracy(y_hat, y), y.numel())


def evaluate_accuracy(net: ScratchNet, batches) -> float:
    correct = total = 0
    with torch.no_grad():
        for X, y in batches:
            correct += accuracy(net(X), y)
            total += y.numel()
    return correct / total


def timed_epochs(model: str, train_batches, test_batches) -> Iterator[tuple[float, float]]:
    """Train `model` the book's way, one epoch per next(): (seconds for train + evaluation, test acc).

    train_batches(generator) and test_batches() give one epoch's batches. Like our trainer (seed 0), one
    generator draws the initial weights and then one permutation per epoch, so all implementations see
    the same weights and the same batches and their accuracies differ only by rounding.
    """
    sizes, lr = MODELS[model]
    generator = torch.Generator().manual_seed(0)
    net = ScratchNet(sizes, lr, generator)
    while True:
        started = time.perf_counter()
        train_epoch(net, train_batches(generator))
        test_acc = evaluate_accuracy(net, test_batches())
        yield time.perf_counter() - started, test_acc


# ---------------------------------------------------------------------------------------------------
# The book's data pipeline: one PIL image per example, four worker processes


def to_tensor(picture: Image.Image) -> torch.Tensor:
    """What torchvision's ToTensor does to a PIL image: (C, H, W) float32 in [0, 1]."""
    pixels = torch.from_numpy(np.array(picture, dtype=np.uint8, copy=True))
    pixels = pixels.view(picture.size[1], picture.size[0], len(picture.getbands()))
    return pixels.permute(2, 0, 1).contiguous().to(torch.float32).div(255)


class PILImages(TorchDataset):
    """Like torchvision's FashionMNIST with transforms.ToTensor(): tensors inside, each item through PIL."""

    def __init__(self, images: np.ndarray, labels: np.ndarray):
        self.data, self.targets = torch.from_numpy(images), torch.from_numpy(labels)

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int):
        image, target = self.data[index], int(self.targets[index])
        return to_tensor(Image.fromarray(image.numpy())), target


class Reshuffled(Sampler):
    """shuffle=True with the order drawn from `generator`, one randperm per epoch as our trainer draws it.

    (RandomSampler would draw a second, unused permutation at the end of each epoch.)
    """

    def __init__(self, n: int, generator: torch.Generator):
        self.n, self.generator = n, generator

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        return iter(torch.randperm(self.n, generator=self.generator).tolist())


def book_epochs(model: str, train_split, test_split) -> Iterator[tuple[float, float]]:
    train_set, test_set = PILImages(*train_split), PILImages(*test_split)
    return loader_epochs(model, train_set, test_set)


def loader_epochs(model: str, train_set, test_set) -> Iterator[tuple[float, float]]:
    """The book's load_data_fashion_mnist loaders around two datasets, and its training loop."""

    def train_batches(generator):
        sampler = Reshuffled(len(train_set), generator)
        return DataLoader(train_set, BATCH_SIZE, sampler=sampler, num_workers=NUM_WORKERS)

    def test_batches():
        return DataLoader(test_set, BATCH_SIZE, shuffle=False, num_workers=NUM_WORKERS)

    warnings.filterwarnings("ignore", message="This DataLoader will create")  # 4 workers, fewer cores
    return timed_epochs(model, train_batches, test_batches)


def torchvision_epochs(model: str, train_split, test_split) -> Iterator[tuple[float, float]]:
    """The book pipeline with the real torchvision.datasets.FashionMNIST and transforms.ToTensor(),
    over the same images, written (uncompressed) where torchvision looks for them."""
    import torchvision
    from torchvision import transforms

    with tempfile.TemporaryDirectory(prefix="train_speed_tv_") as root:
        raw = Path(root) / "FashionMNIST" / "raw"
        raw.mkdir(parents=True)
        for split, arrays in (("train", train_split), ("t10k", test_split)):
            for kind, array in zip(("images-idx3", "labels-idx1"), arrays, strict=True):
                write_idx(raw / f"{split}-{kind}-ubyte", array.astype(np.uint8))
        to_tensor = transforms.Compose([transforms.ToTensor()])
        train_set, test_set = (
            torchvision.datasets.FashionMNIST(root=root, train=train, transform=to_tensor, download=False)
            for train in (True, False)
        )
        yield from loader_epochs(model, train_set, test_set)


# ---------------------------------------------------------------------------------------------------
# The naive fast loop: the same math over one preloaded float tensor


def as_tensors(split) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = split
    return torch.from_numpy(images).float().div(255).unsqueeze(1), torch.from_numpy(labels)


def preloaded_epochs(model: str, train_split, test_split) -> Iterator[tuple[float, float]]:
    X_train, y_train = as_tensors(train_split)
    X_test, y_test = as_tensors(test_split)

    def shuffled(generator):
        order = torch.randperm(len(X_train), generator=generator)
        for start in range(0, len(X_train), BATCH_SIZE):
            indices = order[start : start + BATCH_SIZE]
            yield X_train[indices], y_train[indices]

    def in_order():
        for start in range(0, len(X_test), BATCH_SIZE):
            yield X_test[start : start + BATCH_SIZE], y_test[start : start + BATCH_SIZE]

    return timed_epochs(model, shuffled, in_order)


# ---------------------------------------------------------------------------------------------------
# Ours: the playground's trainer, exactly as the CLI calls it


def our_epochs(model: str, impl: str, epochs: int, data_dir: Path) -> Iterator[tuple[float, float]]:
    """Our trainer's epochs. The first next() loads the data and builds the model (up to the `started`
    event) and yields None; each later one runs an epoch and yields the trainer's own time for it."""
    spec = parse_spec({"model": model, "dataset": "fashion-mnist", "impl": impl, "epochs": epochs})
    events = train(spec, data_dir=data_dir, device="cpu")
    started = next(events)
    if started.type != "started":
        raise RuntimeError(f"our {model} {impl} run did not start: {started}")
    yield None
    for event in events:
        if event.type == "epoch":
            yield event.seconds, event.test_acc
        elif event.type == "finished" and event.status != "done":
            raise RuntimeError(f"our {model} {impl} run ended {event.status}: {event.message}")


# ---------------------------------------------------------------------------------------------------
# One process per implementation, stepped an epoch at a time in turn


def epochs_of(row: str, model: str, epochs: int, data_dir: Path) -> Iterator[tuple[float, float]]:
    """The epochs of one row of the table, after a first next() that does the setup and yields None."""
    if row in OURS:
        return our_epochs(model, OURS[row], epochs, data_dir)
    train_split, test_split = read_split(data_dir, "train"), read_split(data_dir, "test")
    make = {BOOK: book_epochs, TORCHVISION: torchvision_epochs, PRELOADED: preloaded_epochs}[row]
    return itertools.chain([None], make(model, train_split, test_split))


def row_process(connection, row: str, model: str, epochs: int, data_dir: str) -> None:
    """Set up `row`, say ready, then run one epoch per request and send back (seconds, test acc)."""
    # A spawned process starts its own children by spawning too; the book's script, run by hand, gets
    # the platform's default (fork on Linux) for its DataLoader workers, and so does this row.
    multiprocessing.set_start_method(None, force=True)
    rows_epochs = epochs_of(row, model, epochs, Path(data_dir))
    next(rows_epochs)
    connection.send("ready")
    while connection.recv() == "next":
        connection.send(next(rows_epochs))


def run_interleaved(model: str, rows: list[str], epochs: int, data_dir: Path) -> list[Result]:
    """Each row in a fresh process; the epochs taken in turns (book 1, preloaded 1, ..., book 2, ...),
    so a slower or faster spell of the machine falls on every row alike."""
    context = multiprocessing.get_context("spawn")
    workers = []
    for row in rows:
        ours, theirs = context.Pipe()
        process = context.Process(target=row_process, args=(theirs, row, model, epochs, str(data_dir)))
        process.start()
        workers.append((row, process, ours))
    for row, _, connection in workers:
        if connection.recv() != "ready":
            raise RuntimeError(f"{row} did not start")
    results = [Result(model, row) for row in rows]
    for epoch in range(1, epochs + 1):
        for result, (_, _, connection) in zip(results, workers, strict=True):
            connection.send("next")
            seconds, result.test_acc = connection.recv()
            result.seconds.append(seconds)
        log(
            f"{model:8} epoch {epoch}: "
            + ", ".join(f"{r.implementation} {r.seconds[-1]:.3f} s" for r in results)
        )
    for _, process, connection in workers:
        connection.send("stop")
        process.join()
    return results


# ---------------------------------------------------------------------------------------------------
# The machine's limit


def best_rate(work, amount: float, repeats: int = 5, rounds: int = 3) -> float:
    """amount / second of `work` sustained over `repeats` back-to-back calls, the best of `rounds`
    (other processes on the cores only ever slow it down), after one warm-up call."""
    work()
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(repeats):
            work()
        best = min(best, time.perf_counter() - started)
    return amount * repeats / best


def matmul_flops(size: int = 2048) -> dict[str, float]:
    """float32 FLOP/s of a large square matmul, torch's default threads, per kernel torch has: its
    `@` (MKL on x86) and oneDNN's. On an AMD CPU MKL may run a kernel far below the machine's (on a
    Zen 5, ~160 against oneDNN's ~390 GFLOP/s), so the limit is the faster of the two."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    rates = {"torch matmul": best_rate(lambda: a @ b, 2 * size**3)}
    if batched.ONEDNN_LINEAR:  # the cohort's wide layer runs on it where MKL is slow (batched.wide_kernel)
        b_rows = b.T.contiguous()
        rates["oneDNN"] = best_rate(lambda: batched.onednn_linear(a, b_rows), 2 * size**3)
    return rates


def copy_bandwidth(megabytes: int = 256) -> float:
    """Bytes per second moved by copying a large tensor (each copy reads it once and writes it once)."""
    source = torch.ones(megabytes * 2**20 // 4)
    target = torch.empty_like(source)
    return best_rate(lambda: target.copy_(source), 2 * source.nbytes)


def epoch_lower_bound(model: str, flops_per_s: float, bytes_per_s: float, n_train: int, n_test: int):
    """max(compute, memory) seconds for one epoch: per train example 3 matmul passes per layer (forward,
    gradient of the weights, gradient of the layer's input) but 2 for the first layer, whose input is
    the data; 1 pass per test example; every image read once as float32."""
    sizes, _ = MODELS[model]
    layer_flops = [2 * a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
    flops = (3 * sum(layer_flops) - layer_flops[0]) * n_train + sum(layer_flops) * n_test
    image_bytes = (n_train + n_test) * sizes[0] * 4
    return max(flops / flops_per_s, image_bytes / bytes_per_s)


# ---------------------------------------------------------------------------------------------------
# Report


def table(results: list[Result], bounds: dict[str, float]) -> str:
    lines = [
        "| model | implementation | s/epoch | test acc | speed-up vs book pipeline | x machine limit |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for model in dict.fromkeys(r.model for r in results):
        rows = [r for r in results if r.model == model]
        book = next(r for r in rows if r.implementation == BOOK)
        for r in rows:
            lines.append(
                f"| {model} | {r.implementation} | {r.per_epoch:.3f} | {r.test_acc:.4f} | "
                f"{r.speedup_over(book):.1f}x | {r.per_epoch / bounds[model]:.1f}x |"
            )
        lines.append(
            f"| {model} | machine limit (lower bound) | {bounds[model]:.3f} | - | "
            f"{book.per_epoch / bounds[model]:.0f}x | 1.0x |"
        )
    return "\n".join(lines)


def verdicts(results: list[Result]) -> list[str]:
    lines = []
    for r in results:
        if not r.implementation.startswith("ours"):
            continue
        book = next(b for b in results if b.model == r.model and b.implementation == BOOK)
        speedup, target = r.speedup_over(book), TARGETS[r.model]
        gap = abs(r.test_acc - book.test_acc)
        lines.append(
            f"{'PASS' if speedup >= target else 'FAIL'}  {r.model} {r.implementation}: "
            f"{speedup:.1f}x faster than the book pipeline (target >= {target:.0f}x)"
        )
        lines.append(
            f"{'PASS' if gap <= ACC_TOLERANCE else 'FAIL'}  {r.model} {r.implementation}: test acc "
            f"{r.test_acc:.4f} vs book {book.test_acc:.4f} ({100 * gap:.2f} points apart, target <= 1)"
        )
    return lines


def log(message: str) -> None:
    print(message, flush=True)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=4, help="epochs of every implementation (default 4)")
    parser.add_argument("--models", default="softmax,mlp", help="comma-separated: softmax,mlp")
    parser.add_argument("--quick", action="store_true", help="one epoch of everything: a smoke test")
    args = parser.parse_args(argv)
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = set(args.models) - set(MODELS)
    if unknown or not args.models or args.epochs < 1:
        parser.error(f"--models takes {','.join(MODELS)}; --epochs at least 1")
    if args.quick:
        args.epochs = 1
    return args


def machine_limits() -> tuple[float, float]:
    rates, bytes_per_s = matmul_flops(), copy_bandwidth()
    flops_per_s = max(rates.values())
    each = ", ".join(f"{name} {rate / 1e9:.1f}" for name, rate in rates.items())
    log(
        f"machine: {flops_per_s / 1e9:.1f} GFLOP/s float32 matmul ({each}; 2048^2, "
        f"{torch.get_num_threads()} threads)"
    )
    log(f"machine: {bytes_per_s / 1e9:.1f} GB/s memory bandwidth (copying 256 MB, read + write)")
    return flops_per_s, bytes_per_s


def rows_to_run() -> list[str]:
    """The table's rows; the real torchvision pipeline too where torchvision is installed."""
    if importlib.util.find_spec("torchvision") is None:
        log("torchvision: not installed, so the book pipeline's ToTensor is the few lines in this script")
        return [BOOK, PRELOADED, *OURS]
    return [BOOK, TORCHVISION, PRELOADED, *OURS]


def busy_seconds() -> float | None:
    """CPU seconds all processes have spent busy since boot (Linux /proc/stat), or None elsewhere."""
    try:
        fields = [int(n) for n in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def own_seconds() -> float:
    """CPU seconds of this process and its finished children (the DataLoader workers)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def report_other_load(busy_before: float | None, own_before: float, wall: float) -> None:
    """Other processes on the cores stall torch's threads; say how much they ran during the benchmark."""
    if busy_before is None:
        return
    others = max(busy_seconds() - busy_before - (own_seconds() - own_before), 0.0)
    share = others / (wall * (os.cpu_count() or 1))
    note = "  WARNING: the machine was busy, timings are noisy" if share > 0.1 else ""
    log(
        f"other processes used {others:.1f} CPU s during the {wall:.0f} s run "
        f"({share:.0%} of the cores){note}"
    )


def benchmark(args, data_dir: Path) -> None:
    train_split, test_split = read_split(data_dir, "train"), read_split(data_dir, "test")
    busy_before, own_before, started = busy_seconds(), own_seconds(), time.perf_counter()
    flops_per_s, bytes_per_s = machine_limits()
    results, bounds, rows = [], {}, rows_to_run()
    for model in args.models:
        bounds[model] = epoch_lower_bound(
            model, flops_per_s, bytes_per_s, len(train_split[0]), len(test_split[0])
        )
        results += run_interleaved(model, rows, args.epochs, data_dir)
    report_other_load(busy_before, own_before, time.perf_counter() - started)
    log("")
    log(table(results, bounds))
    log("")
    for line in verdicts(results):
        log(line)


def main(argv=None) -> None:
    args = parse_args(argv)
    reuse_freed_memory()  # as a worker's warm-up does (app/runs/malloc.py)
    log(
        f"train_speed {date.today()}: torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"epochs {args.epochs}, models {','.join(args.models)}"
    )
    data_dir = get_settings().data_dir
    if fashion_mnist.is_on_disk(data_dir):
        log(f"data: real Fashion-MNIST from {fashion_mnist.folder(data_dir)}")
        benchmark(args, data_dir)
        return
    with tempfile.TemporaryDirectory(prefix="train_speed_") as temporary:
        started = time.perf_counter()
        write_synthetic(Path(temporary))
        log(
            "data: SYNTHETIC Fashion-MNIST-format files (60,000 + 10,000 uint8 28x28 images, 10 classes "
            f"with structure), no real files in {fashion_mnist.folder(data_dir)}; written in "
            f"{time.perf_counter() - started:.1f} s to {fashion_mnist.folder(Path(temporary))}"
        )
        benchmark(args, Path(temporary))


if __name__ == "__main__":
    main()
