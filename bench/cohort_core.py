"""Per-member epoch time of a cohort against the same runs one by one, on Fashion-MNIST-format data.

    python bench/cohort_core.py [--sizes 1,4,8,32] [--epochs 4] [--model softmax] [--impl scratch]
                                [--device cpu] [--quick]

For each cohort size K: K runs at the book's settings (batch 256, same seed) that differ in learning rate
(spread between 0.02 and 0.3, so none diverges), trained as one cohort by app.training.cohort.train_cohort,
and the same K runs one by one with app.training.trainer.train, in this process. An epoch is the
trainer's own `seconds` (training, test evaluation, the epoch's pictures and confusion matrices).

The epochs are taken in turns, as bench/train_speed.py does: the cohort's epoch r, then epoch r of each
of the K runs, then round r + 1; so a slow or fast spell of a shared machine falls on both sides of a
round's ratio (K runs' epochs / the cohort's epoch). The first round is a warm-up and left out when there
are more; the figures are medians over the rest. All runs share one loaded copy of the data (as a worker
that keeps its datasets does), so 32 runs alive at once fit in memory; loading is outside every epoch.

Printed per K: the cohort's epoch, its share per member, a run's epoch alone, the speed-up, and the
per-member epoch against the machine's limit for one epoch of the model (bench/train_speed.py's lower
bound: measured matmul FLOP/s and memory bandwidth). Uses the real files when they are on disk, else
full-size synthetic ones (60,000 + 10,000 uint8 28x28 images, bench/train_speed.py's generator).
"""

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere
sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_speed import (  # noqa: E402
    busy_seconds,
    epoch_lower_bound,
    machine_limits,
    own_seconds,
    report_other_load,
    write_synthetic,
)

import app.training.cohort.loop  # noqa: E402
import app.training.trainer  # noqa: E402
from app.runs.malloc import reuse_freed_memory  # noqa: E402
from app.settings import get_settings  # noqa: E402
from app.training.cohort import train_cohort  # noqa: E402
from app.training.data import fashion_mnist, load_dataset  # noqa: E402
from app.training.specs import parse_spec  # noqa: E402

LOWEST_LR, HIGHEST_LR = 0.02, 0.3
MODELS = ("softmax", "mlp")  # the MLP at its defaults: 784-256-10, as train_speed.py bounds it


@dataclass
class Rounds:
    """Per round: the cohort's epoch seconds and the sum of the K runs' epoch seconds."""

    size: int
    cohort: list[float] = field(default_factory=list)
    alone: list[float] = field(default_factory=list)  # the K runs' epochs of the round, summed
    accuracy_gap: float = 0.0  # largest |member's last test acc - its run's alone|

    def warm(self, values: list[float]) -> list[float]:
        return values[1:] or values

    @property
    def cohort_epoch(self) -> float:
        return statistics.median(self.warm(self.cohort))

    @property
    def run_epoch(self) -> float:
        """A run's epoch alone: the median round's sum over the K runs, per run."""
        return statistics.median(self.warm(self.alone)) / self.size

    @property
    def speedup(self) -> float:
        """Median over the rounds of (K runs' epochs one by one) / (the cohort's epoch)."""
        ratios = [alone / cohort for alone, cohort in zip(self.alone, self.cohort, strict=True)]
        return statistics.median(self.warm(ratios))


class Epochs:
    """Steps an event stream one epoch at a time and keeps each member's last test accuracy."""

    def __init__(self, events, watched: int = 0):
        self.events, self.watched = events, watched
        self.test_acc: dict[int, float] = {}

    def next_epoch(self) -> float:
        """Run until the watched member's next epoch event; its seconds."""
        for member, event in self.events:
            self.note(member, event)
            if event.type == "epoch" and member == self.watched:
                return event.seconds
        raise RuntimeError("the run ended before its last epoch")

    def drain(self) -> None:
        for member, event in self.events:
            self.note(member, event)

    def note(self, member: int, event) -> None:
        if event.type == "epoch":
            self.test_acc[member] = event.test_acc
        if event.type == "finished" and event.status != "done":
            raise RuntimeError(f"member {member} ended {event.status}: {event.message}")


def learning_rates(k: int) -> list[float]:
    """k learning rates spread evenly on a log scale over [LOWEST_LR, HIGHEST_LR]."""
    if k == 1:
        return [0.1]
    ratio = (HIGHEST_LR / LOWEST_LR) ** (1 / (k - 1))
    return [LOWEST_LR * ratio**i for i in range(k)]


def specs_for(k: int, args) -> list:
    base = {"model": args.model, "impl": args.impl, "dataset": "fashion-mnist", "epochs": args.epochs}
    return [parse_spec(base | {"lr": lr}) for lr in learning_rates(k)]


def tagged(events) -> Iterator:
    """A single run's events as (0, event), like a cohort of one."""
    return ((0, event) for event in events)


def share_loaded_data() -> None:
    """Load each dataset once for every run of this process (trainer and cohort alike)."""
    loaded = {}

    def load_once(spec, data_dir, **options):
        key = (spec.dataset, str(data_dir))  # these runs all train on fashion-mnist
        if key not in loaded:
            loaded[key] = load_dataset(spec, data_dir, **options)
        return loaded[key]

    app.training.trainer.load_dataset = load_once
    app.training.cohort.loop.load_dataset = load_once


def measure(k: int, args, data_dir: Path) -> Rounds:
    """The cohort's epochs and the K runs' epochs, in turns."""
    specs = specs_for(k, args)
    cohort = Epochs(train_cohort(specs, data_dir=data_dir, device=args.device))
    runs = [
        Epochs(tagged(app.training.trainer.train(spec, data_dir=data_dir, device=args.device)))
        for spec in specs
    ]
    rounds = Rounds(k)
    for _ in range(args.epochs):
        rounds.cohort.append(cohort.next_epoch())
        rounds.alone.append(sum(run.next_epoch() for run in runs))
    cohort.drain()
    for run in runs:
        run.drain()
    rounds.accuracy_gap = max(abs(cohort.test_acc[m] - run.test_acc[0]) for m, run in enumerate(runs))
    return rounds


def log(message: str) -> None:
    print(message, flush=True)


def benchmark(args, data_dir: Path) -> None:
    busy_before, own_before, started = busy_seconds(), own_seconds(), time.perf_counter()
    flops_per_s, bytes_per_s = machine_limits()
    limit = epoch_lower_bound(args.model, flops_per_s, bytes_per_s, 60_000, 10_000)
    log(f"machine limit for one {args.model} epoch (lower bound): {limit:.4f} s")
    share_loaded_data()
    results = []
    for k in args.sizes:
        rounds = measure(k, args, data_dir)
        results.append(rounds)
        log(
            f"K={k:3}: cohort epochs {', '.join(f'{s:.3f}' for s in rounds.cohort)} s; "
            f"the {k} runs' epochs {', '.join(f'{s:.3f}' for s in rounds.alone)} s; "
            f"test acc of a member and its run alone differ by at most {rounds.accuracy_gap:.4f}"
        )
    report_other_load(busy_before, own_before, time.perf_counter() - started)
    log("")
    log(table(results, limit))


def table(results: list[Rounds], limit: float) -> str:
    lines = [
        "| members | cohort s/epoch | per member s/epoch | one by one s/epoch per run | speed-up (paired) | "
        "per member x machine limit |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for rounds in results:
        per_member = rounds.cohort_epoch / rounds.size
        lines.append(
            f"| {rounds.size} | {rounds.cohort_epoch:.3f} | {per_member:.4f} | {rounds.run_epoch:.3f} | "
            f"{rounds.speedup:.1f}x | {per_member / limit:.1f}x |"
        )
    return "\n".join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes", default="1,4,8,32", help="cohort sizes, comma-separated (default 1,4,8,32)"
    )
    parser.add_argument("--epochs", type=int, default=4, help="epochs of every run (default 4)")
    parser.add_argument("--model", default="softmax", choices=MODELS)
    parser.add_argument("--impl", default="scratch", choices=["scratch", "concise"])
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    parser.add_argument("--quick", action="store_true", help="sizes 1,4 and 2 epochs: a smoke test")
    args = parser.parse_args(argv)
    args.sizes = [int(k) for k in args.sizes.split(",")]
    if args.quick:
        args.sizes, args.epochs = [1, 4], 2
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    reuse_freed_memory()  # as a worker's warm-up does (app/runs/malloc.py)
    log(
        f"cohort_core {date.today()}: torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{args.model} {args.impl}, epochs {args.epochs}, sizes {args.sizes}, device {args.device}"
    )
    data_dir = get_settings().data_dir
    if fashion_mnist.is_on_disk(data_dir):
        log(f"data: real Fashion-MNIST from {fashion_mnist.folder(data_dir)}")
        benchmark(args, data_dir)
        return
    with tempfile.TemporaryDirectory(prefix="cohort_core_") as temporary:
        write_synthetic(Path(temporary))
        log("data: SYNTHETIC Fashion-MNIST-format files (60,000 + 10,000 uint8 28x28 images)")
        benchmark(args, Path(temporary))


if __name__ == "__main__":
    main()
