"""How fast a stepped run answers Step: from POST /api/runs/{id}/step to its by_hand step event on the
client's own event stream (issue 15: p95 <= 100 ms on 2 cores).

One server as deployed here (one worker, two torch threads), one MLP on spiral paused mid-run, then
`--steps` Steps one after another, each waiting for its event. The baseline, measured in the same run on
the same server, is a request that does nothing: GET /healthz.

    python bench/pace.py            # 50 Steps
    python bench/pace.py --steps 20
"""

import argparse
import json
import queue
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.server import running_server  # noqa: E402

SPEC = {"model": "mlp", "dataset": "spiral", "epochs": 200, "batch_size": 4, "hidden_units": 16}


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else values[0]


class Heard:
    """What the reader thread has heard on the run's stream."""

    def __init__(self):
        self.arrivals: queue.Queue = queue.Queue()  # (step, when) of each by_hand step event
        self.steps = 0  # regular step events: the run is training
        self.last = time.perf_counter()  # when the last event came


def follow(base: str, cookies: dict, run_id: str, heard: Heard, stop: threading.Event) -> None:
    """Read the run's stream, handing on (step, when it arrived) for each by_hand step event. The main
    thread blocks on the queue: a loop that looked every millisecond took CPU from the server it timed."""
    with httpx.stream("GET", f"{base}/api/runs/{run_id}/events", cookies=cookies, timeout=120) as response:
        for line in response.iter_lines():
            if stop.is_set():
                return
            if not line.startswith("data:"):
                continue
            heard.last = time.perf_counter()
            if '"type":"step"' in line:
                if '"by_hand":true' in line:
                    heard.arrivals.put((json.loads(line[5:])["step"], heard.last))
                else:
                    heard.steps += 1


def wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def measure(live, count: int) -> dict:
    """Pause the run once it trains (not before its first minibatch: a fresh worker's first run is still
    starting then, and the first Steps would time its start), wait until its stream is quiet and read to
    the end, then Step."""
    client = httpx.Client(base_url=live.base, timeout=30)
    run_id = client.post("/api/runs", json=SPEC).json()["id"]
    heard, stop = Heard(), threading.Event()
    reader = threading.Thread(target=follow, args=(live.base, dict(client.cookies), run_id, heard, stop))
    reader.start()
    wait_for(lambda: heard.steps >= 8, 60, "the run never trained")
    client.post(f"/api/runs/{run_id}/pause")
    wait_for(lambda: time.perf_counter() - heard.last > 0.5, 30, "the paused run's stream never went quiet")
    step_ms = []
    for _ in range(count):
        while not heard.arrivals.empty():  # a late answer to an earlier Step is not this one's
            heard.arrivals.get_nowait()
        sent = time.perf_counter()
        client.post(f"/api/runs/{run_id}/step")
        try:
            _, arrived = heard.arrivals.get(timeout=5)
        except queue.Empty:
            continue
        step_ms.append((arrived - sent) * 1000)
    idle_ms = []
    for _ in range(count):
        sent = time.perf_counter()
        client.get("/healthz")
        idle_ms.append((time.perf_counter() - sent) * 1000)
    stop.set()
    client.delete(f"/api/runs/{run_id}")
    reader.join(timeout=10)
    return {"step": step_ms, "healthz": idle_ms, "asked": count}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir, running_server(Path(data_dir), workers=1) as live:
        live.wait_ready_workers(1)
        result = measure(live, min(max(args.steps, 2), 500))
    step, idle = result["step"], result["healthz"]
    print(f"Steps answered: {len(step)} of {result['asked']}")
    print("| measure | median ms | p95 ms | target |")
    print("|---|---:|---:|---|")
    rows = [("Step -> its by_hand step event at the client", step, "p95 <= 100"), ("GET /healthz", idle, "")]
    for name, values, target in rows:
        print(f"| {name} | {statistics.median(values):.1f} | {p95(values):.1f} | {target} |")
    print(f"ratio of p95s: {p95(step) / p95(idle):.1f}x the baseline")
    over = sum(value > 100 for value in step)
    print(f"first Step {step[0]:.1f} ms, slowest {max(step):.1f} ms, Steps over 100 ms: {over}")


if __name__ == "__main__":
    main()
