"""Train together, measured on a real server: a class's runs and a race's lanes as cohorts, against the
same runs one at a time on the same server, in the same run of this script.

    python bench/cohort.py [--class-size 24] [--epochs 10] [--alone 4] [--quick]

One server (uvicorn, started through tests.server.running_server, as deployed on this 2-core machine:
one training worker with two torch threads), on Fashion-MNIST-format files: the real ones when they are
in PLAYGROUND_DATA_DIR, else full-size synthetic ones (60,000 + 10,000 images, bench/train_speed.py's
generator). Every run is submitted through POST /api/runs or /api/races with the admin token (one
visitor may otherwise have 3 runs in flight) and timed from submit to its `done` in GET /api/runs/{id}.

1. A class: `--class-size` softmax runs at the book's defaults (batch 256, same seed), each its own
   learning rate, submitted at once; they train as cohorts. Baseline: `--alone` of the same runs, one
   after another (each submitted when the last ended), so each trains alone. Throughput in runs/min.
2. A race of 4 learning rates, softmax and the MLP (784-256-10): its makespan against the sum of the
   4 lanes run alone (measured one by one, on the same server).

Targets (issue 13): the class >= 4x the one-by-one throughput and >= 100 runs/min; the race's makespan
<= 0.4x the lanes alone (softmax) and <= 0.6x (MLP). Per-member epoch time against the machine's limit
is bench/cohort_core.py's. Only ratios are verdicts; absolute times depend on the machine.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere
sys.path.insert(0, str(ROOT / "bench"))

from train_speed import write_synthetic  # noqa: E402

from app.training.data import fashion_mnist  # noqa: E402
from tests.server import running_server  # noqa: E402

ADMIN = "bench-cohort-admin"
FINISHED = {"done", "diverged", "failed", "cancelled", "interrupted"}
RACE_RATES = [0.03, 0.1, 0.3, 0.5]


def class_rates(n: int) -> list[float]:
    """n learning rates spread between 0.02 and 0.5, none of which diverges on these images."""
    return [round(0.02 * (0.5 / 0.02) ** (i / max(n - 1, 1)), 4) for i in range(n)]


def wait_done(client: httpx.Client, run_ids: list[str], timeout: float = 3600) -> dict[str, str]:
    """Each run's ending, polling one run at a time (the first that has not ended) every 50 ms: the
    last run seen ending marks when all had ended, as closely as polling every run would. Polling all
    24 of a class every 50 ms was ~500 requests a second, which took about half a core of this 2-core
    machine (the server's and this client's share) away from the training it measured."""
    deadline, statuses = time.monotonic() + timeout, {}
    for run_id in run_ids:
        while (status := client.get(f"/api/runs/{run_id}").json()["status"]) not in FINISHED:
            assert time.monotonic() < deadline, "runs did not finish in time"
            time.sleep(0.05)
        statuses[run_id] = status
    return statuses


def submit(client: httpx.Client, spec: dict) -> str:
    answer = client.post("/api/runs", json=spec)
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def one_by_one(client: httpx.Client, specs: list[dict]) -> float:
    """Seconds to train the specs one after another, each alone on the worker."""
    started = time.monotonic()
    for spec in specs:
        assert wait_done(client, [submit(client, spec)]) != {}
    return time.monotonic() - started


def all_at_once(client: httpx.Client, specs: list[dict]) -> tuple[float, dict[str, str]]:
    started = time.monotonic()
    run_ids = [submit(client, spec) for spec in specs]
    statuses = wait_done(client, run_ids)
    return time.monotonic() - started, statuses


def race(client: httpx.Client, base: dict) -> float:
    started = time.monotonic()
    answer = client.post("/api/races", json={"base": base, "vary": "lr", "values": RACE_RATES})
    assert answer.status_code == 201, answer.text
    wait_done(client, [run["id"] for run in answer.json()["runs"]])
    return time.monotonic() - started


def verdict(ok: bool) -> str:
    return "meets the target" if ok else "MISSES the target"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--class-size", type=int, default=24)
    parser.add_argument("--epochs", type=int, default=10, help="the book's 10")
    parser.add_argument("--alone", type=int, default=4, help="runs of the class timed one by one")
    parser.add_argument("--quick", action="store_true", help="2 epochs, a class of 8, 2 alone")
    args = parser.parse_args()
    if args.quick:
        args.class_size, args.epochs, args.alone = 8, 2, 2

    with tempfile.TemporaryDirectory() as scratch:
        data_dir = Path(os.environ.get("PLAYGROUND_DATA_DIR") or scratch)
        if not fashion_mnist.is_on_disk(data_dir):
            print("Fashion-MNIST is not on disk: writing full-size synthetic files ...", flush=True)
            write_synthetic(data_dir)
        with running_server(data_dir, workers=1, admin_token=ADMIN) as live:  # as deployed here
            live.wait_ready_workers(1)
            client = httpx.Client(
                base_url=live.base, timeout=60, headers={"Authorization": f"Bearer {ADMIN}"}
            )
            softmax = {"model": "softmax", "dataset": "fashion-mnist", "epochs": args.epochs}
            mlp = {"model": "mlp", "dataset": "fashion-mnist", "epochs": args.epochs}
            wait_done(client, [submit(client, softmax | {"epochs": 1})])  # the worker loads the data once

            specs = [softmax | {"lr": lr} for lr in class_rates(args.class_size)]
            alone_s = one_by_one(client, specs[: args.alone])
            together_s, statuses = all_at_once(client, specs)
            alone_rate, together_rate = 60 * args.alone / alone_s, 60 * len(specs) / together_s
            speedup = together_rate / alone_rate
            print(f"\nA class of {len(specs)} softmax runs ({args.epochs} epochs, batch 256, one seed):")
            print(f"  one by one   {alone_rate:7.1f} runs/min  ({args.alone} runs in {alone_s:.1f} s)")
            print(f"  all at once  {together_rate:7.1f} runs/min  ({len(specs)} runs in {together_s:.1f} s)")
            print(f"  ratio {speedup:.1f}x: {verdict(speedup >= 4)} (>= 4x); ", end="")
            print(f"{together_rate:.0f} runs/min: {verdict(together_rate >= 100)} (>= 100)")
            print(f"  endings: {sorted(set(statuses.values()))}")

            for name, base, target in (("softmax", softmax, 0.4), ("MLP 784-256-10", mlp, 0.6)):
                lanes_s = one_by_one(client, [base | {"lr": lr} for lr in RACE_RATES])
                race_s = race(client, base)
                share = race_s / lanes_s
                print(f"\nA race of 4 learning rates, {name} ({args.epochs} epochs):")
                print(f"  lanes alone, one by one {lanes_s:7.1f} s; the race {race_s:7.1f} s")
                print(f"  makespan ratio {share:.2f}: {verdict(share <= target)} (<= {target})")


if __name__ == "__main__":
    main()
