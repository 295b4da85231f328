"""What one eager PyTorch op costs on this machine, and how many of them one softmax step is worth.

    python bench/op_overhead.py

Softmax regression on Fashion-MNIST is too small to be limited by arithmetic: its step is ~35 tensor ops
on 256x10 or 784x10 tensors plus two thin matmuls. This script times a few such ops alone (the cost of
dispatch, whatever the size), the smallest forward-and-backward, and our scratch softmax step on a
256-image batch; it prints the step as a multiple of one op, a ratio that carries over between machines
better than the microseconds do.
"""

import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from app.training.models.softmax import SoftmaxScratch  # noqa: E402
from app.training.specs import parse_spec  # noqa: E402

CALLS = 20_000


def microseconds(work, calls: int = CALLS) -> float:
    """Median over 5 rounds of the time per call, after 1,000 warm-up calls."""
    for _ in range(1000):
        work()
    rounds = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(calls // 5):
            work()
        rounds.append((time.perf_counter() - started) / (calls // 5) * 1e6)
    return statistics.median(rounds)


def main() -> None:
    scores = torch.randn(256, 10)
    weight = torch.zeros(10, requires_grad=True)
    ops = {
        "scores + 1 (256x10)": lambda: scores + 1,
        "scores.exp()": lambda: scores.exp(),
        "scores.max(dim=1)": lambda: scores.max(dim=1, keepdim=True),
        "scores.sum(dim=1)": lambda: scores.sum(dim=1, keepdim=True),
        "weight * 2 (tracked by autograd)": lambda: weight * 2,
        "(weight * 2).sum().backward()": lambda: (weight * 2).sum().backward(),
    }
    spec = parse_spec({"model": "softmax", "dataset": "fashion-mnist", "epochs": 1})
    model = SoftmaxScratch(spec, 784, 10, torch.Generator().manual_seed(0), torch.device("cpu"))
    X, y = torch.rand(256, 1, 28, 28), torch.randint(0, 10, (256,))
    ops["our scratch softmax step (batch 256)"] = lambda: model.train_step(X, y)

    print(f"op_overhead: torch {torch.__version__}, {torch.get_num_threads()} threads, {CALLS} calls each")
    costs = {name: microseconds(work) for name, work in ops.items()}
    one_op = statistics.median(list(costs.values())[:4])
    for name, cost in costs.items():
        print(f"{name:40} {cost:8.1f} µs  {cost / one_op:6.1f} x one op")
    print(f"one op (median of the first four): {one_op:.1f} µs")


if __name__ == "__main__":
    main()
