"""Which float32 kernel computes the cohort's wide layer, and what sharing the minibatch saves with each.

    python bench/kernels.py [--models softmax,mlp] [--members 4] [--rounds 6]

torch's `@` runs MKL on x86; on an AMD CPU MKL may choose a kernel far below the machine's speed, where
oneDNN (also inside torch) does not; on an Intel CPU the two are about even. batched.wide_kernel chooses
by the CPU's vendor; "(chosen here)" marks its choice. This script measures, in one process, two threads:

1. a 2048^2 matmul's FLOP/s through each kernel (bench/train_speed.py's machine limit takes the faster);
2. per model, one cohort step (app.training.models.batched) on a real-format minibatch, for 1 member and
   for `--members`, with the wide layer through oneDNN and through torch's matmul, the four variants
   alternated for `--rounds` rounds (medians). "K members / K x 1" is what sharing the batch saves with
   that kernel: a cohort of 1 is the same computation as a run alone, in the cohort's code.

Uses the real Fashion-MNIST files when they are in PLAYGROUND_DATA_DIR, else one minibatch of the
synthetic generator's images.
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere
sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_speed import matmul_flops, write_synthetic  # noqa: E402

from app.runs.malloc import reuse_freed_memory  # noqa: E402
from app.settings import get_settings  # noqa: E402
from app.training.data import fashion_mnist, load_dataset  # noqa: E402
from app.training.models import batched  # noqa: E402
from app.training.specs import parse_spec  # noqa: E402

STEPS = 100  # per timing, after 5 warm-up steps
KERNEL_NAMES = {"onednn": "oneDNN", "matmul": "torch matmul"}


def minibatch(data_dir: Path) -> tuple[torch.Tensor, torch.Tensor]:
    data = load_dataset(parse_spec({"model": "softmax", "dataset": "fashion-mnist"}), data_dir)
    return data.X_train[:256].clone(), data.y_train[:256].clone()


def cohort(model: str, members: int) -> batched.BatchedClassifier:
    base = {"model": model, "dataset": "fashion-mnist"}
    specs = [parse_spec(base | {"lr": 0.05 + 0.01 * k}) for k in range(members)]
    return batched.BatchedClassifier(specs, 784, 10, torch.Generator().manual_seed(0), torch.device("cpu"))


def step_ms(model: batched.BatchedClassifier, X: torch.Tensor, y: torch.Tensor) -> float:
    for _ in range(5):
        model.train_step(X, y)
    started = time.perf_counter()
    for _ in range(STEPS):
        model.train_step(X, y)
    return (time.perf_counter() - started) / STEPS * 1e3


def compare(model: str, members: int, rounds: int, X: torch.Tensor, y: torch.Tensor) -> None:
    cohorts = {size: cohort(model, size) for size in (1, members)}
    times: dict[tuple[str, int], list[float]] = {}  # (kernel, members): ms a step, per round
    chosen = batched.WIDE_KERNEL
    kernels = ("onednn", "matmul") if batched.ONEDNN_LINEAR else ("matmul",)
    for _ in range(rounds):
        for kernel in kernels:
            batched.WIDE_KERNEL = kernel
            for size, model_ in cohorts.items():
                times.setdefault((kernel, size), []).append(step_ms(model_, X, y))
    batched.WIDE_KERNEL = chosen
    for kernel in kernels:
        one, many = (statistics.median(times[(kernel, size)]) for size in (1, members))
        print(
            f"| {model} | {KERNEL_NAMES[kernel]}{' (chosen here)' if kernel == chosen else ''} | "
            f"{one:.2f} | {many:.2f} | {many / (members * one):.2f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="softmax,mlp")
    parser.add_argument("--members", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    reuse_freed_memory()  # as a worker's warm-up does (app/runs/malloc.py)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    rates = matmul_flops()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print("2048^2 float32 matmul: " + ", ".join(f"{k} {v / 1e9:.0f} GFLOP/s" for k, v in rates.items()))
    data_dir = get_settings().data_dir
    with tempfile.TemporaryDirectory(prefix="kernels_") as temporary:
        if not fashion_mnist.is_on_disk(data_dir):
            data_dir = Path(temporary)
            write_synthetic(data_dir)
        X, y = minibatch(data_dir)
    print(
        f"\n| model | wide layer through | 1 member ms/step | {args.members} members ms/step | "
        f"{args.members} members / {args.members} x 1 |"
    )
    print("|---|---|---:|---:|---:|")
    for model in args.models.split(","):
        compare(model, args.members, args.rounds, X, y)


if __name__ == "__main__":
    main()
