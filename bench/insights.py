"""What the see-inside views cost: epoch time with insights on versus off, per model, in one process.

    python bench/insights.py [--rounds 5] [--quick]

`insights` (on by default) adds the loss landscape for 2-feature linear regression, layer health on
the MLP's step events and a confusion matrix per epoch for classifiers. Each model runs with insights
on and off, alternating, `rounds` times; the figure is the median `seconds` of the epoch events after
the first epoch of each run (torch's warm-up stays out), and the ratio the median over the on/off pairs.
Verdict: on/off <= 1.10 for every model.
Ratios only: absolute times depend on the machine. Data: the book's synthetic linear data, scikit-learn's
digits and the 2-D spiral (Fashion-MNIST is not downloadable here).
"""

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.training.specs import parse_spec  # noqa: E402
from app.training.trainer import train  # noqa: E402

TARGET = 1.10
MODELS = {
    "linreg (book data, 20k examples, batch 10)": {"model": "linreg", "n_examples": 20_000, "epochs": 4},
    "softmax (digits, batch 32)": {"model": "softmax", "dataset": "digits", "batch_size": 32, "epochs": 8},
    "mlp 3x256 sigmoid (digits, batch 32)": {
        "model": "mlp",
        "dataset": "digits",
        "batch_size": 32,
        "epochs": 8,
        "hidden_layers": 3,
        "activation": "sigmoid",
    },
    "mlp 1x256 relu (spiral, batch 16)": {
        "model": "mlp",
        "dataset": "spiral",
        "batch_size": 16,
        "epochs": 8,
        "n_examples": 4000,
    },
}


def epoch_seconds(spec: dict, insights: bool, data_dir: Path) -> list[float]:
    events = list(train(parse_spec(spec | {"insights": insights}), data_dir=data_dir, device="cpu"))
    assert events[-1].status == "done", events[-1]
    return [event.seconds for event in events if event.type == "epoch"][1:]


def measure(spec: dict, rounds: int, data_dir: Path) -> dict:
    """Runs on and off back to back, `rounds` times; the ratio is the median of the pairs' ratios, so a
    burst of load from elsewhere (this VM's timings swing by 1.5x from one run to the next) hits both
    members of a pair rather than one side of the comparison."""
    on, off, ratios = [], [], []
    for round_number in range(rounds):
        order = (True, False) if round_number % 2 == 0 else (False, True)  # alternate who goes first
        pair = {insights: statistics.median(epoch_seconds(spec, insights, data_dir)) for insights in order}
        on.append(pair[True])
        off.append(pair[False])
        ratios.append(pair[True] / pair[False])
    return {"on": statistics.median(on), "off": statistics.median(off), "ratio": statistics.median(ratios)}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=9, help="on/off pairs per model (default 9)")
    parser.add_argument("--quick", action="store_true", help="2 rounds: a smoke test")
    args = parser.parse_args()
    rounds = 3 if args.quick else max(1, min(args.rounds, 50))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {rounds} rounds per model")
    rows, passed = [], True
    with tempfile.TemporaryDirectory() as data_dir:
        for name, spec in MODELS.items():
            result = measure(spec, rounds, Path(data_dir))
            ok = result["ratio"] <= TARGET
            passed &= ok
            rows.append(
                f"| {name} | {result['off'] * 1000:.1f} | {result['on'] * 1000:.1f} | "
                f"{result['ratio']:.3f} | {'PASS' if ok else 'FAIL'} |"
            )
            print(rows[-1], flush=True)
    print("\n| model | epoch ms, insights off | epoch ms, on | on / off | <= 1.10 |\n|---|---|---|---|---|")
    print("\n".join(rows))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
