"""A/B inside one training run: a variant switched on and off in alternate epochs, compared in pairs.

    python bench/ab_epochs.py softmax scratch row-major [--epochs 25]
    python bench/ab_epochs.py mlp concise one-thread

This machine's speed drifts by up to 1.7x over minutes, more than most changes are worth, so two
separate runs cannot tell a 5% change from luck. Here epoch 1 warms up, then the variant is on in epochs
2, 4, ... and off in 3, 5, ...; each neighbouring pair gives a ratio (on / off) and the median ratio is
the verdict. The data is synthetic Fashion-MNIST-format images, as in train_speed.py.

Variants (each undoes or changes one choice of the trainer, without touching the weights' values):
  row-major    store each weight matrix row by row instead of column by column (see models/common.py)
  one-thread   torch.set_num_threads(1) instead of the default
"""

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere
sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_speed import write_synthetic  # noqa: E402

from app.training import trainer  # noqa: E402
from app.training.models.common import column_major  # noqa: E402
from app.training.specs import parse_spec  # noqa: E402


def row_major(model, on: bool) -> None:
    """The scratch models' W (inputs x outputs) stored row by row (on) or column by column (off)."""
    for param in model.parameters():
        if param.dim() == 2:
            param.grad = None
            param.data = param.data.contiguous() if on else column_major(param.data)


def one_thread(model, on: bool, default_threads: int = torch.get_num_threads()) -> None:
    torch.set_num_threads(1 if on else default_threads)


VARIANTS = {"row-major": row_major, "one-thread": one_thread}


def paired_ratios(model_name: str, impl: str, switch, epochs: int, data_dir: Path) -> list[float]:
    """on / off epoch time for each pair of epochs (2, 3), (4, 5), ... of one run."""
    built, build_model = [], trainer.build_model

    def build_and_keep(*args, **kwargs):  # the variant needs the run's model
        built.append(build_model(*args, **kwargs))
        return built[-1]

    spec = parse_spec({"model": model_name, "dataset": "fashion-mnist", "impl": impl, "epochs": epochs})
    seconds = {}
    trainer.build_model = build_and_keep
    try:
        for event in trainer.train(spec, data_dir=data_dir, device="cpu"):
            if event.type == "epoch":
                seconds[event.epoch] = event.seconds
                switch(built[0], on=event.epoch % 2 == 1)  # on for the even epoch that comes next
            elif event.type == "finished" and event.status != "done":
                raise RuntimeError(f"run ended {event.status}: {event.message}")
    finally:
        trainer.build_model = build_model
    return [seconds[on] / seconds[on + 1] for on in range(2, epochs, 2)]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", choices=["softmax", "mlp"])
    parser.add_argument("impl", choices=["scratch", "concise"])
    parser.add_argument("variant", choices=sorted(VARIANTS))
    parser.add_argument("--epochs", type=int, default=25, help="epochs of the run (default 25)")
    args = parser.parse_args(argv)
    if args.variant == "row-major" and args.impl != "scratch":
        parser.error("row-major changes the scratch models' W; nn.Linear keeps its own layout")
    if args.epochs < 3:
        parser.error("--epochs at least 3 (a warm-up epoch and one pair)")
    with tempfile.TemporaryDirectory(prefix="ab_epochs_") as folder:
        write_synthetic(Path(folder))
        ratios = paired_ratios(args.model, args.impl, VARIANTS[args.variant], args.epochs, Path(folder))
    print(
        f"{args.model} {args.impl} {args.variant}: on / off epoch time, median of {len(ratios)} pairs "
        f"{statistics.median(ratios):.3f} (range {min(ratios):.2f}-{max(ratios):.2f})"
    )


if __name__ == "__main__":
    main()
