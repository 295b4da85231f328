"""Memory stays bounded on a shared server: 30 viewers that stop reading a finished 100,000-event run
and three of the largest runs the budget allows, while /healthz keeps answering promptly, stalled
viewers are dropped, and viewers that read get every event."""

import json
import math
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from app.runs.store import RunStore
from app.training.budget import cost
from app.training.specs import parse_spec
from app.training.trainer import train
from tests.probes import rss_mb
from tests.server import ROOT, running_server, wait_status

SEND_TIMEOUT_S = 5
FINISHED = {"done", "cancelled", "diverged", "failed", "interrupted"}
STALLED_VIEWERS = 30
REPLAY_EVENTS = 100_000
# Measured on the development machine (2 cores): the web process grew 39-48 MB above its idle 78 MB
# at its peak in this test (six runs); the test allows 1.5 x the median, 46 MB.
MEASURED_GROWTH_MB = 46
HEALTHZ_LIMIT_S = 0.2
# Every answer, not a percentile: with the pool as deployed on 2 cores (one worker) the slowest took
# 64-81 ms in three runs; with two workers and the test's clients sharing the cores it was 0.3-0.9 s.


def recorded_run(n_events: int) -> list[dict]:
    """A real linear-regression run's events, its step and snapshot events repeated (renumbered) to
    `n_events`: what the store would hold for a run that long."""
    spec = parse_spec({"model": "linreg", "epochs": 1, "step_events_per_epoch": 100})
    events = [event.model_dump(mode="json") for event in train(spec, data_dir=Path("/nonexistent"))]
    head, body, tail = events[:3], [e for e in events[3:-1] if e["type"] in ("step", "snapshot")], events[-1:]
    grown = list(head)
    while len(grown) < n_events - 1:
        step = len(grown)
        grown.extend(
            {**event, "step": step} if event["type"] == "step" else event
            for event in body[: n_events - 1 - len(grown)]
        )
    return grown + tail


def largest_allowed_run() -> dict:
    """Linear regression at 1000 step events an epoch, with as many epochs as the event budget allows."""
    spec = {"model": "linreg", "n_examples": 10_000, "batch_size": 10, "step_events_per_epoch": 1000}
    per_epoch = (
        cost(parse_spec(spec | {"epochs": 2}).model_dump()).events
        - cost(parse_spec(spec | {"epochs": 1}).model_dump()).events
    )
    epochs = math.floor((100_000 - 10) / per_epoch)
    assert cost(parse_spec(spec | {"epochs": epochs}).model_dump()).events <= 100_000
    return spec | {"epochs": epochs}


def probe(*args: str, nice: int = 0) -> subprocess.Popen:
    """A client in a process of its own (tests/probes.py): its CPU is not the server's."""
    command = ["nice", "-n", str(nice), sys.executable, "-m", "tests.probes", *args]
    return subprocess.Popen(command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def result_of(process: subprocess.Popen, timeout: float = 300):
    output, _ = process.communicate(timeout=timeout)
    return json.loads(output)


def stalled_viewer(port: int, path: str) -> socket.socket:
    """An event-stream request whose reader never reads: a small receive window that fills at once."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    return sock


def sse_clients(client: httpx.Client) -> float:
    line = next(
        line
        for line in client.get("/metrics").text.splitlines()
        if line.startswith("playground_sse_clients ")
    )
    return float(line.split()[-1])


def test_memory_stays_bounded_and_the_server_responsive_under_stalled_viewers_and_big_runs(tmp_path):
    store = RunStore(f"sqlite:///{tmp_path / 'runs.sqlite3'}")
    store.add("replayed", {"model": "linreg"}, owner="someone")
    store.finish("replayed", recorded_run(REPLAY_EVENTS))
    del store
    settings = {"sse_send_timeout_s": SEND_TIMEOUT_S}  # the pool as deployed here: one worker on two cores
    with running_server(tmp_path, **settings) as live:
        live.wait_ready_workers(1)
        idle_mb = rss_mb(live.process.pid)
        watch = probe("watch", live.base, str(live.process.pid))
        port = int(live.base.rsplit(":", 1)[1])
        asked = time.monotonic()
        assert live.client.get("/api/runs/replayed").json()["status"] == "done"
        assert time.monotonic() - asked < HEALTHZ_LIMIT_S, "a long finished run is read back as its summary"
        stalled = [stalled_viewer(port, "/api/runs/replayed/events") for _ in range(STALLED_VIEWERS)]
        deadline = time.monotonic() + SEND_TIMEOUT_S - 1
        while sse_clients(live.client) < STALLED_VIEWERS:
            assert time.monotonic() < deadline, "viewers that do not read are counted while connected"
            time.sleep(0.1)
        big = largest_allowed_run()
        run_ids = [live.client.post("/api/runs", json=big).json()["id"] for _ in range(3)]
        reader = probe("read", live.base, run_ids[0], nice=10)  # one reader: clients share these 2 cores
        seen = result_of(reader)
        for run_id in run_ids:
            wait_status(live.client, run_id, FINISHED, timeout=240)
        deadline = time.monotonic() + SEND_TIMEOUT_S + 20
        while sse_clients(live.client) > 0:
            assert time.monotonic() < deadline, "stalled viewers were not dropped"
            time.sleep(0.2)
        watched = result_of(watch)
        for sock in stalled:
            sock.close()
        exports = {run_id: live.client.get(f"/api/runs/{run_id}/export.json").json() for run_id in run_ids}
    for run_id in run_ids:
        assert exports[run_id]["status"] == "done" and len(exports[run_id]["events"]) > 90_000
    assert seen == list(range(1, len(exports[run_ids[0]]["events"]) + 1)), "a reader got every event once"
    latencies = sorted(watched["healthz_s"])
    p99, slowest = latencies[int(len(latencies) * 0.99)], latencies[-1]
    peak = watched["peak_mb"]
    print(f"web: idle {idle_mb:.0f} MB, peak {peak:.0f} MB; /healthz p99 {p99:.3f} s, max {slowest:.3f} s")
    assert watched["failures"] == 0 and slowest < HEALTHZ_LIMIT_S
    assert watched["peak_mb"] - idle_mb < 1.5 * MEASURED_GROWTH_MB


def test_compare_and_exports_of_long_runs_stay_small_and_off_the_event_loop(tmp_path):
    """Comparing two finished 100,000-event runs draws at most 2,000 loss points each; their exports
    stream from the store whole; /healthz keeps answering meanwhile."""
    store = RunStore(f"sqlite:///{tmp_path / 'runs.sqlite3'}")
    events = recorded_run(REPLAY_EVENTS)
    for run_id in ("long1", "long2"):
        store.add(run_id, {"model": "linreg"}, owner="someone")
        store.finish(run_id, events)
    del store
    with running_server(tmp_path, workers=1, worker_threads=1) as live:
        watch = probe("watch", live.base, str(live.process.pid))
        compared = live.client.get("/runs/compare", params={"ids": ["long1", "long2"]})
        csv_lines = sum(1 for _ in live.client.get("/api/runs/long1/export.csv").iter_lines())
        exported = live.client.get("/api/runs/long2/export.json").json()["events"]
        watched = result_of(watch)
    assert compared.status_code == 200 and len(compared.content) < 600_000
    steps = sum(1 for event in events if event["type"] == "step")
    preamble = 2 + 1 + 1  # run and status, the ending, the one setting (model) of this made-up spec
    assert csv_lines == preamble + 1 + steps + sum(1 for event in events if event["type"] == "epoch")
    assert exported == events
    assert max(watched["healthz_s"]) < HEALTHZ_LIMIT_S
