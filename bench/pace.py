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


def follow(base: str, cookies: dict, run_id: str, arrivals: dict, stop: threading.Event) -> None:
    """Read the run's stream, noting when each by_hand step event arrives."""
    with httpx.stream("GET", f"{base}/api/runs/{run_id}/events", cookies=cookies, timeout=120) as response:
        for line in response.iter_lines():
            if stop.is_set():
                return
            if line.startswith("data:") and '"by_hand":true' in line and '"type":"step"' in line:
                arrivals[json.loads(line[5:])["step"]] = time.perf_counter()


def measure(live, count: int) -> dict:
    client = httpx.Client(base_url=live.base, timeout=30)
    run_id = client.post("/api/runs", json=SPEC).json()["id"]
    deadline = time.monotonic() + 60
    while client.get(f"/api/runs/{run_id}").json()["status"] != "running":
        assert time.monotonic() < deadline, "the run never started"
        time.sleep(0.05)
    time.sleep(0.5)
    client.post(f"/api/runs/{run_id}/pause")
    arrivals: dict[int, float] = {}
    stop = threading.Event()
    reader = threading.Thread(target=follow, args=(live.base, dict(client.cookies), run_id, arrivals, stop))
    reader.start()
    time.sleep(0.5)
    step_ms = []
    for _ in range(count):
        seen = len(arrivals)
        sent = time.perf_counter()
        client.post(f"/api/runs/{run_id}/step")
        while len(arrivals) == seen and time.perf_counter() - sent < 5:
            time.sleep(0.001)
        if len(arrivals) > seen:
            step_ms.append((max(arrivals.values()) - sent) * 1000)
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


if __name__ == "__main__":
    main()
