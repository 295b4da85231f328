"""The neuron view's cost: epochs of a 2-D MLP with the `neurons` snapshot drawn and without, in one run.

    python bench/neurons.py [--epochs 61] [--units 8] [--layers 2] [--dataset spiral]

The issue's target: with the view on (2-D MLP, 8 hidden units, 2 layers), epochs at most 1.15x slower than
with it off. This machine's speed drifts over minutes, so two separate runs cannot tell 5% from luck (see
ab_epochs.py): here one run trains with `neurons` on, and the view is drawn after the even epochs only.
An epoch's cost is the wall time from the previous epoch event to its own, as the consumer sees it: the
minibatches, the evaluation, and the snapshots drawn after the previous epoch, each event turned into JSON
as the runs layer does. Epoch pairs (drawn after, not drawn after) give ratios; the median is the verdict.
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from app.training import trainer  # noqa: E402
from app.training.specs import parse_spec  # noqa: E402

draw_neurons = trainer.neurons_snapshot


def every_other_epoch(spec, model, data, extent, step, epoch, by_hand=False):
    """The neuron view after the even epochs (and at the start), none after the odd ones."""
    if epoch % 2 == 0:
        yield from draw_neurons(spec, model, data, extent, step, epoch, by_hand)


def epoch_costs(spec, data_dir: Path) -> tuple[list[float], list[float], int]:
    """(seconds of epochs after a drawing, seconds of epochs after none, bytes of one drawing)."""
    trainer.neurons_snapshot = every_other_epoch
    try:
        arrivals, drawing_bytes = [], 0
        for event in trainer.train(spec, data_dir=data_dir, device="cpu", should_stop=lambda: False):
            text = event.model_dump_json()  # what the runs layer stores and streams
            if event.type == "epoch":
                arrivals.append((event.epoch, time.perf_counter()))
            elif event.type == "snapshot" and event.kind == "neurons":
                drawing_bytes = len(text)
            elif event.type == "finished" and event.status != "done":
                raise SystemExit(f"the run ended {event.status}: {event.message}")
    finally:
        trainer.neurons_snapshot = draw_neurons
    after_drawing, after_none = [], []
    for (previous, start), (_, end) in zip(arrivals[1:-1], arrivals[2:], strict=True):
        (after_drawing if previous % 2 == 0 else after_none).append(end - start)
    return after_drawing, after_none, drawing_bytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=61)
    parser.add_argument("--units", type=int, default=8)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--dataset", default="spiral")
    args = parser.parse_args()
    spec = parse_spec(
        {
            "model": "mlp",
            "dataset": args.dataset,
            "hidden_units": args.units,
            "hidden_layers": args.layers,
            "epochs": args.epochs,
            "neurons": True,
        }
    )
    with tempfile.TemporaryDirectory() as data_dir:
        on, off, size = epoch_costs(spec, Path(data_dir))
    ratios = [a / b for a, b in zip(on, off, strict=False)]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(
        f"mlp {args.dataset}, {args.layers} x {args.units} hidden units, batch {spec.batch_size}, "
        f"{args.epochs} epochs; one drawing {size / 1024:.1f} KiB of JSON"
    )
    print(f"epoch after a drawing: median {statistics.median(on) * 1e3:.2f} ms ({len(on)} epochs)")
    print(f"epoch after none:      median {statistics.median(off) * 1e3:.2f} ms ({len(off)} epochs)")
    quartiles = statistics.quantiles(ratios, n=4)
    print(
        f"ratio on/off: median {statistics.median(ratios):.3f}, "
        f"quartiles {quartiles[0]:.3f}-{quartiles[2]:.3f} ({len(ratios)} pairs)"
    )


if __name__ == "__main__":
    main()
