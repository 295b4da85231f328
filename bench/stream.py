"""How fast run events reach SSE viewers, and how many viewers one server holds, on 127.0.0.1.

    python bench/stream.py [--quick] [--pristine] [--levels 50,100,...] [--window SECONDS]

Everything runs on this machine over loopback, against real uvicorn servers started here and stopped at
the end; every loop is bounded in count and in time. Measured:

  a0  step event, worker -> SSE client: the real server (pool, worker process, pipe, reader thread,
      event loop, EventLog, encode_event, EventSourceResponse, uvicorn) with one viewer. The events
      carry no clock, so the bench launches the server itself with the workers' message pipe wrapped:
      each event dict gets `bench_t` (time.monotonic(), one clock for all processes on Linux) the
      moment the worker sends it. Nothing in app/ changes; --pristine runs `uvicorn app.main:app`
      unwrapped instead (then a0 and absolute fan-out latencies are not available).
  a1  the same web code path without training: a tiny app (below) that mounts the project's own
      api.router, whose runs are EventLogs fed by a task that stamps each event before append().
  a2  arrivals only, as a viewer of the unmodified stream sees them: gaps between step events, and
      how far each arrives after a straight line fitted through (step number, arrival) per epoch.
  b   POST /api/runs -> first `step` at a client, pool warm (all workers ready and idle).
  c   epoch `seconds` (GET /api/runs/{id}) with one SSE viewer attached versus none, alternating.
  d   fan-out: N viewers over the live runs, clients in separate processes speaking raw HTTP/1.1;
      p99 latency per N, and whether every viewer got every id in order and the final event.

Only ratios and targets make verdicts; absolute times depend on the machine.
"""

import argparse
import asyncio
import contextlib
import importlib.metadata
import importlib.util
import itertools
import json
import math
import multiprocessing
import os
import random
import re
import resource
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from tests.server import Server, read_sse, running_server  # noqa: E402

STAMP = "bench_t"
STAMP_PATTERN = re.compile(rb'"bench_t":([0-9.eE+-]+)')
FINISHED = ("done", "cancelled", "diverged", "failed", "interrupted")
TARGET_A_P95 = 0.050
TARGET_B = 0.500
TARGET_C_RATIO = 1.05
TARGET_D_P99 = 0.100
TARGET_D_VIEWERS = 500
SPREAD_MARGIN = 0.05  # an event is live for all viewers if first seen this long after the last one joined
WORKERS = 2
NOISY_CORES = 0.2  # other processes busier than this during a measurement make its verdict doubtful

# Small, fast runs for (b); a run with steady steps for (a) and (c); a long one for (d) at ~20 events/s.
B_SPECS = {
    "linreg": {"model": "linreg", "epochs": 1},
    "softmax digits": {"model": "softmax", "dataset": "digits", "epochs": 1},
}
MLP = {"model": "mlp", "dataset": "digits", "hidden_units": 512, "hidden_layers": 2, "batch_size": 16}
C_SPEC = MLP | {"step_events_per_epoch": 20}
D_SPEC = MLP | {"epochs": 200, "step_events_per_epoch": 4}


@dataclass(frozen=True)
class Plan:
    b_reps: int
    c_reps: int  # pairs (none, attached)
    c_epochs: int
    a1_seconds: float
    a1_rate: float
    levels: tuple[int, ...]
    window: float  # seconds of streaming measured per fan-out level
    rate: float  # events per second per stream in the transport-only fan-out
    streams: int  # streams in the transport-only fan-out
    client_procs: int
    quick: bool


FULL = Plan(7, 6, 4, 4.0, 50.0, (50, 100, 200, 400, 500, 700, 1000), 5.0, 20.0, 4, 2, False)
QUICK = Plan(3, 3, 3, 2.0, 50.0, (100, 500), 2.5, 20.0, 4, 2, True)


# ---------------------------------------------------------------------------------------------------
# Small helpers


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def quantile(values: list[float], q: float) -> float:
    """Nearest-rank quantile; nan for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def ms(seconds: float) -> str:
    return "n/a" if seconds != seconds else f"{seconds * 1000:.1f}"


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "FAIL")


def noisy(other_cores: float) -> str:
    """A mark on verdicts measured while other processes took a noticeable share of the machine."""
    return "*" if other_cores > NOISY_CORES else ""


CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process (all its threads); nan where /proc is missing."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    except (OSError, IndexError, ValueError):
        return math.nan


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent not idle since boot (time stolen by the hypervisor included)."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return math.nan
    return (sum(fields) - fields[3] - fields[4]) / CLOCK_TICKS


def own_seconds() -> float:
    """CPU seconds of this process and all its live descendants, with the reaped ones they waited for."""
    parent_of, cpu = {}, {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            pid = int(entry.name)
            parent_of[pid] = int(fields[1])
            cpu[pid] = sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    children: dict[int, list[int]] = {}
    for pid, parent in parent_of.items():
        children.setdefault(parent, []).append(pid)
    mine, stack = 0, [os.getpid()]
    while stack:
        pid = stack.pop()
        mine += cpu.get(pid, 0)
        stack += children.get(pid, [])
    return mine / CLOCK_TICKS


class OtherLoad:
    """Cores that processes outside this benchmark kept busy between start() and stop(): on a shared
    machine they take CPU from the servers and clients measured here."""

    def start(self) -> "OtherLoad":
        self.begin = (time.monotonic(), machine_busy_seconds(), own_seconds())
        return self

    def stop(self) -> float:
        end = (time.monotonic(), machine_busy_seconds(), own_seconds())
        wall = end[0] - self.begin[0]
        return max(0.0, ((end[1] - self.begin[1]) - (end[2] - self.begin[2])) / wall)


def raise_open_files_limit(wanted: int = 8192) -> None:
    """1000 viewers need 1000 sockets on each side; children inherit the raised limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


# ---------------------------------------------------------------------------------------------------
# Servers: the real one (optionally with stamping workers) and the transport-only one


class _StampingPipe:
    """Wraps a worker's message pipe: every event dict gets the monotonic time at which it was sent."""

    def __init__(self, connection):
        self._connection = connection

    def send(self, message) -> None:
        from app.runs.worker import EVENT

        kind, _, payload = message
        if kind == EVENT and isinstance(payload, dict):
            payload[STAMP] = time.monotonic()
        self._connection.send(message)


def stamped_worker_main(jobs, messages, *args) -> None:
    """app.runs.worker.worker_main, unchanged, talking through a _StampingPipe."""
    from app.runs.worker import worker_main

    worker_main(jobs, _StampingPipe(messages), *args)


def serve_stamped_real(port: int) -> None:
    """What `uvicorn app.main:app` does, with the pool spawning stamped_worker_main (run in a child)."""
    import uvicorn

    import app.runs.pool

    app.runs.pool.worker_main = stamped_worker_main
    uvicorn.run("app.main:app", host="127.0.0.1", port=port)


def make_transport_app():
    """The project's api.router over EventLogs that a task feeds: the endpoint, encoder and SSE response
    of the real server, without pool or training."""
    from fastapi import FastAPI, Request

    from app.runs.log import EventLog
    from app.runs.service import RunState
    from app.settings import Settings
    from app.web import api
    from app.web.metrics import Metrics
    from app.web.stream import encode_event

    class Streams:
        """Just enough of RunService for api.run_events: get(run_id) -> RunState."""

        def __init__(self):
            self.runs: dict[str, RunState] = {}
            self.numbers = itertools.count(1)
            self.tasks: set[asyncio.Task] = set()

        def get(self, run_id: str) -> RunState | None:
            return self.runs.get(run_id)

    streams = Streams()
    app = FastAPI()
    app.include_router(api.router)
    app.state.runs = streams
    app.state.metrics = Metrics()
    app.state.settings = Settings()  # the SSE send timeout the endpoint reads

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.post("/bench/streams")
    async def new_streams(count: int = 1) -> list[str]:
        ids = [f"s{next(streams.numbers)}" for _ in range(max(1, min(count, 64)))]
        for run_id in ids:
            streams.runs[run_id] = RunState(id=run_id, spec={}, status="running", log=EventLog(encode_event))
        return ids

    @app.post("/bench/go")
    async def go(request: Request) -> dict:
        body = await request.json()
        for run_id in body["ids"]:
            task = asyncio.create_task(produce(streams.runs[run_id].log, body["rate"], body["seconds"]))
            streams.tasks.add(task)
            task.add_done_callback(streams.tasks.discard)
        return {"started": len(body["ids"])}

    return app


def synthetic_event(k: int) -> dict:
    """The mix a digits MLP run sends: five steps, then an epoch (with its HTML fragment), a snapshot."""
    epoch, phase = k // 7 + 1, k % 7
    if phase < 5:
        return {"type": "step", "step": k + 1, "epoch": epoch, "loss": round(2.3 / (1 + k / 50), 6)}
    if phase == 5:
        return {
            "type": "epoch",
            "epoch": epoch,
            "train_loss": 0.4123,
            "train_acc": 0.8812,
            "test_loss": 0.4432,
            "test_acc": 0.8701,
            "seconds": 0.331,
            "examples_per_sec": 4344.0,
        }
    return {"type": "snapshot", "step": k, "epoch": epoch, "kind": "images", "data": {"predicted": [3] * 24}}


async def produce(event_log, rate: float, seconds: float) -> None:
    """Append stamped events on a fixed schedule (no catching up in bursts), then `finished`."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    count = max(1, int(rate * seconds))
    for k in range(count):
        await asyncio.sleep(max(0.0, start + k / rate - loop.time()))
        event = synthetic_event(k)
        event[STAMP] = time.monotonic()
        event_log.append(event)
    done = {"type": "finished", "status": "done", "message": "bench", "epochs_done": count // 7}
    event_log.append(done | {STAMP: time.monotonic()})


def serve_transport(port: int) -> None:
    import uvicorn

    uvicorn.run(make_transport_app(), host="127.0.0.1", port=port)


def launched(target: str, data_dir: Path, **settings):
    """tests.server.running_server, with the process running `bench.stream.<target>(port)`."""
    pythonpath = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return running_server(
        data_dir,
        command=lambda port: [sys.executable, "-c", f"import bench.stream as bench; bench.{target}({port})"],
        extra_env={"PYTHONPATH": pythonpath},
        **settings,
    )


def real_server(data_dir: Path, pristine: bool):
    settings = {"workers": WORKERS, "worker_threads": 1}
    if pristine:
        return running_server(data_dir, **settings)
    return launched("serve_stamped_real", data_dir, **settings)


# ---------------------------------------------------------------------------------------------------
# Viewers for (a1) and (d): raw HTTP/1.1 over asyncio, in separate processes


class Viewer(asyncio.Protocol):
    """One SSE connection: de-chunks the body, records (id, arrival, stamp) of each message with an id."""

    def __init__(self, request: bytes, run: int):
        loop = asyncio.get_running_loop()
        self.request, self.run = request, run
        self.joined = loop.create_future()  # response headers received
        self.done = loop.create_future()  # stream ended or failed
        self.transport = None
        self.raw, self.body = bytearray(), bytearray()
        self.need = -1  # bytes left in the current chunk; -1: a chunk-size line comes next
        self.headers_at: float | None = None
        self.ids: list[int] = []
        self.arrivals: list[float] = []
        self.stamps: list[float] = []
        self.finished = False
        self.error: str | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        raw = self.raw
        raw += data
        if self.headers_at is None:
            end = raw.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(raw[:end]).lower()
            if not head.startswith(b"http/1.1 200") or b"transfer-encoding: chunked" not in head:
                self.fail(f"unexpected response {head[:40]!r}")
                return
            del raw[: end + 4]
            self.headers_at = now
            self.joined.set_result(now)
        position, ended = 0, False
        while True:
            if self.need < 0:
                line_end = raw.find(b"\r\n", position)
                if line_end < 0:
                    break
                size = int(raw[position:line_end], 16)
                position = line_end + 2
                if size == 0:
                    ended = True
                    break
                self.need = size
            if len(raw) - position < self.need + 2:
                break
            self.body += raw[position : position + self.need]
            position += self.need + 2
            self.need = -1
        del raw[:position]
        self.parse(now)
        if ended:
            self.finish()

    def parse(self, now: float) -> None:
        body, start = self.body, 0
        while (end := body.find(b"\r\n\r\n", start)) >= 0:
            if body.startswith(b"id: ", start):
                line_end = body.find(b"\r\n", start)
                self.ids.append(int(body[start + 4 : line_end]))
                self.arrivals.append(now)
                stamp = STAMP_PATTERN.search(body, line_end, end)
                self.stamps.append(float(stamp.group(1)) if stamp else math.nan)
                if body.startswith(b"event: finished", line_end + 2):
                    self.finished = True
            start = end + 4
        del body[:start]

    def finish(self) -> None:
        if not self.done.done():
            self.done.set_result(None)
        if self.transport is not None:
            self.transport.close()

    def fail(self, error: str) -> None:
        self.error = self.error or error
        if not self.joined.done():
            self.joined.set_result(None)
        self.finish()

    def connection_lost(self, exc) -> None:
        if not self.done.done():
            self.fail(f"connection lost before the stream ended ({exc!r})")

    def result(self) -> dict:
        return {
            "run": self.run,
            "ids": self.ids,
            "arrivals": self.arrivals,
            "stamps": self.stamps,
            "finished": self.finished,
            "error": self.error,
        }


async def view_level(job: dict, connection) -> dict:
    """Open the job's viewers (64 at a time), report when all have joined, read until all streams end."""
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(64)
    host, port = "127.0.0.1", job["port"]
    deadline = time.monotonic() + job["join_timeout"]

    async def open_one(path: str, run: int) -> Viewer:
        request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n\r\n"
        viewer = Viewer(request.encode(), run)
        async with gate:
            try:
                left = max(0.1, deadline - time.monotonic())
                await asyncio.wait_for(loop.create_connection(lambda: viewer, host, port), left)
                await asyncio.wait_for(asyncio.shield(viewer.joined), max(0.1, deadline - time.monotonic()))
            except (OSError, TimeoutError) as error:
                viewer.fail(f"could not join: {error!r}")
        return viewer

    viewers = await asyncio.gather(*(open_one(path, run) for path, run in job["viewers"]))
    joined = [v.headers_at for v in viewers if v.headers_at is not None]
    connection.send(("joined", max(joined, default=math.nan), len(joined)))
    cpu_start, wall_start = time.process_time(), time.monotonic()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*(v.done for v in viewers)), job["end_timeout"])
    cpu, wall = time.process_time() - cpu_start, time.monotonic() - wall_start
    for viewer in viewers:
        if not viewer.done.done():
            viewer.fail("stream still open at the deadline")
    await asyncio.sleep(0)
    return {"viewers": [v.result() for v in viewers], "cpu": cpu, "wall": wall}


def client_main(connection) -> None:
    """A client process: one level after another until told None (or the parent is gone)."""
    while True:
        try:
            job = connection.recv()
        except EOFError:
            return
        if job is None:
            return
        connection.send(("result", asyncio.run(view_level(job, connection))))


class Clients:
    """A few client processes, started once (spawn, so they share nothing with this one)."""

    def __init__(self, count: int):
        context = multiprocessing.get_context("spawn")
        self.procs, self.pipes = [], []
        for _ in range(count):
            parent, child = context.Pipe()
            process = context.Process(target=client_main, args=(child,), daemon=True, name="sse-viewers")
            process.start()
            child.close()
            self.procs.append(process)
            self.pipes.append(parent)

    def start_level(self, port: int, viewers: list[tuple[str, int]], join_timeout: float, end_timeout: float):
        """Deal the viewers out round-robin; wait until each process says all of its viewers joined."""
        shares = [viewers[i :: len(self.pipes)] for i in range(len(self.pipes))]
        busy = []
        for pipe, share in zip(self.pipes, shares, strict=True):
            if share:
                job = {
                    "port": port,
                    "viewers": share,
                    "join_timeout": join_timeout,
                    "end_timeout": end_timeout,
                }
                pipe.send(job)
                busy.append(pipe)
        joined_at, joined = [], 0
        for pipe in busy:
            if not pipe.poll(join_timeout + 10):
                raise TimeoutError("viewers did not join in time")
            _, at, count = pipe.recv()
            joined_at.append(at)
            joined += count
        return busy, max(joined_at), joined

    @staticmethod
    def results(busy, timeout: float) -> tuple[list[dict], float]:
        """All viewers' records, and the busiest client process's CPU share while streaming."""
        viewers, cpu_share = [], 0.0
        for pipe in busy:
            if not pipe.poll(timeout):
                raise TimeoutError("viewers did not report in time")
            _, result = pipe.recv()
            viewers += result["viewers"]
            cpu_share = max(cpu_share, result["cpu"] / max(result["wall"], 1e-9))
        return viewers, cpu_share

    def restart(self) -> None:
        self.close()
        self.__init__(len(self.procs))

    def close(self) -> None:
        for pipe in self.pipes:
            with contextlib.suppress(OSError, BrokenPipeError):
                pipe.send(None)
        for process in self.procs:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join(timeout=5)


# ---------------------------------------------------------------------------------------------------
# Fan-out levels


@dataclass
class Level:
    server: str
    n: int
    complete: int = 0
    first_error: str | None = None
    events_per_run_s: float = math.nan
    deliveries_s: float = math.nan
    latency: tuple[float, float, float] = (math.nan, math.nan, math.nan)  # p50, p95, p99
    spread_p99: float = math.nan
    server_cpu: float = math.nan  # share of one core
    workers_cpu: float = math.nan
    client_cpu: float = math.nan
    us_per_delivery: float = math.nan
    epoch_s: float = math.nan
    stamped: bool = True
    other: float = math.nan  # cores busy with processes outside the benchmark

    @property
    def p99(self) -> float:
        return self.latency[2] if self.stamped else self.spread_p99

    @property
    def held(self) -> bool:
        return self.complete == self.n and self.p99 <= TARGET_D_P99


def summarise(level: Level, viewers: list[dict], live_from: float, window: tuple[float, float]) -> None:
    first: dict[tuple[int, int], float] = {}
    for v in viewers:
        for event_id, arrival in zip(v["ids"], v["arrivals"], strict=True):
            key = (v["run"], event_id)
            if arrival < first.get(key, math.inf):
                first[key] = arrival
    latencies, spreads, delivered = [], [], 0
    for v in viewers:
        in_order = v["ids"] == list(range(1, len(v["ids"]) + 1))
        if v["error"] is None and v["finished"] and in_order:
            level.complete += 1
        elif level.first_error is None:
            level.first_error = v["error"] or (
                "out of order or missing ids" if not in_order else "no final event"
            )
        for event_id, arrival, stamp in zip(v["ids"], v["arrivals"], v["stamps"], strict=True):
            if stamp == stamp and stamp >= live_from:
                latencies.append(arrival - stamp)
            first_arrival = first[(v["run"], event_id)]
            if first_arrival >= live_from + SPREAD_MARGIN:
                spreads.append(arrival - first_arrival)
            delivered += window[0] <= arrival < window[1]
    seconds = window[1] - window[0]
    runs = len({v["run"] for v in viewers}) or 1
    in_window = sum(window[0] <= at < window[1] for at in first.values())
    level.events_per_run_s = in_window / runs / seconds
    level.deliveries_s = delivered / seconds
    level.stamped = bool(latencies)
    level.latency = tuple(quantile(latencies, q) for q in (0.5, 0.95, 0.99))
    level.spread_p99 = quantile(spreads, 0.99)


class CpuMeter:
    """CPU shares (of one core) of the server process and of its workers between two samples."""

    def __init__(self, server_pid: int, worker_pids: list[int]):
        self.server_pid, self.worker_pids = server_pid, worker_pids
        self.begin = self.end = (math.nan, math.nan, math.nan)

    def sample(self) -> tuple[float, float, float]:
        workers = sum(cpu_seconds(pid) for pid in self.worker_pids) if self.worker_pids else math.nan
        return time.monotonic(), cpu_seconds(self.server_pid), workers

    def start(self) -> None:
        self.begin = self.sample()

    def stop(self) -> None:
        self.end = self.sample()

    def fill(self, level: Level) -> None:
        wall = self.end[0] - self.begin[0]
        level.server_cpu = (self.end[1] - self.begin[1]) / wall
        level.workers_cpu = (self.end[2] - self.begin[2]) / wall
        if level.deliveries_s > 0:
            level.us_per_delivery = level.server_cpu / level.deliveries_s * 1e6


def wait_idle(client: httpx.Client, timeout: float = 60) -> None:
    """All workers ready and none busy: the warm pool each measurement starts from."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        health = client.get("/healthz").json()
        if health["workers_ready"] >= WORKERS and health["running"] == 0 and health["queued"] == 0:
            return
        time.sleep(0.05)
    raise TimeoutError("the pool did not become idle")


def wait_finished(client: httpx.Client, run_id: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = client.get(f"/api/runs/{run_id}").json()
        if run["status"] in FINISHED:
            return run
        time.sleep(0.2)
    client.delete(f"/api/runs/{run_id}")
    raise TimeoutError(f"run {run_id} did not finish in {timeout} s")


def fan_out_real(live: Server, clients: Clients, n: int, window: float) -> Level:
    """N viewers over one live run per worker; cancel the runs after `window` seconds of streaming."""
    client = live.client
    wait_idle(client)
    run_ids = [client.post("/api/runs", json=D_SPEC).raise_for_status().json()["id"] for _ in range(WORKERS)]
    level = Level("real", n)
    meter = CpuMeter(live.process.pid, live.worker_pids())
    try:
        port = int(live.base.rsplit(":", 1)[1])
        viewers = [(f"/api/runs/{run_ids[i % WORKERS]}/events", i % WORKERS) for i in range(n)]
        busy, joined_at, _ = clients.start_level(port, viewers, join_timeout=30, end_timeout=window + 40)
        meter.start()
        other = OtherLoad().start()
        time.sleep(window)
        meter.stop()
        level.other = other.stop()
    finally:
        for run_id in run_ids:
            client.delete(f"/api/runs/{run_id}")
    records, level.client_cpu = clients.results(busy, timeout=window + 60)
    summarise(level, records, joined_at, (joined_at, meter.end[0]))
    meter.fill(level)
    epochs = []
    for run_id in run_ids:
        run = wait_finished(client, run_id, 30)
        epochs += [e["seconds"] for e in run["epochs"][1:]]
    level.epoch_s = statistics.median(epochs) if epochs else math.nan
    return level


def fan_out_transport(live: Server, clients: Clients, n: int, streams: int, rate: float, seconds: float):
    client = live.client
    ids = client.post("/bench/streams", params={"count": streams}).raise_for_status().json()
    port = int(live.base.rsplit(":", 1)[1])
    viewers = [(f"/api/runs/{ids[i % streams]}/events", i % streams) for i in range(n)]
    level = Level("transport", n)
    meter = CpuMeter(live.process.pid, [])
    busy, joined_at, _ = clients.start_level(port, viewers, join_timeout=30, end_timeout=seconds + 40)
    meter.start()
    other = OtherLoad().start()
    client.post("/bench/go", json={"ids": ids, "rate": rate, "seconds": seconds}).raise_for_status()
    time.sleep(seconds)
    meter.stop()
    level.other = other.stop()
    records, level.client_cpu = clients.results(busy, timeout=seconds + 60)
    summarise(level, records, joined_at, (joined_at, meter.end[0]))
    meter.fill(level)
    return level


def ladder(run_level, levels: tuple[int, ...], clients: Clients, server: str) -> list[Level]:
    """Increasing N; stop after two failing levels in a row (higher N would only take longer to fail),
    or after a level that broke down (viewers that never joined or never reported)."""
    results, failures = [], 0
    for n in levels:
        try:
            level = run_level(n)
        except (TimeoutError, OSError, httpx.HTTPError) as error:
            results.append(Level(server, n, first_error=f"level broke down: {error!r}"))
            log(f"  N={n}: broke down ({error!r})")
            clients.restart()  # they may still be busy with the broken level
            break
        results.append(level)
        log(
            f"  N={n}: {level.complete}/{n} complete, p99 {ms(level.p99)} ms, "
            f"server CPU {level.server_cpu:.0%}, clients {level.client_cpu:.0%}"
        )
        failures = 0 if level.held else failures + 1
        if failures >= 2:
            break
    return results


def rate_range(levels: list[Level]) -> str:
    """Events per second per stream over the ladder (training slows down as the viewers take CPU)."""
    rates = [level.events_per_run_s for level in levels if level.events_per_run_s == level.events_per_run_s]
    return f"{min(rates):.0f}-{max(rates):.0f}" if rates else "?"


def first_failure_load(levels: list[Level]) -> float:
    """Other processes' load during the level that ended the ladder (0 if none failed)."""
    return next((level.other for level in levels if not level.held), 0.0)


def largest_held(levels: list[Level]) -> int:
    """The largest N before the first level that failed."""
    held = 0
    for level in levels:
        if not level.held:
            break
        held = level.n
    return held


# ---------------------------------------------------------------------------------------------------
# (a), (b), (c) against the real server


def first_step(live: Server, spec: dict) -> tuple[float, float]:
    """Seconds from sending POST /api/runs to the first `step` at an SSE client; and to the 201 alone."""
    client = live.client
    wait_idle(client)
    start = time.monotonic()
    run_id = client.post("/api/runs", json=spec).raise_for_status().json()["id"]
    posted = time.monotonic() - start
    arrived = math.inf  # no step at all fails the target
    with (
        contextlib.suppress(httpx.TimeoutException),
        client.stream("GET", f"/api/runs/{run_id}/events") as response,
    ):
        for message in read_sse(response):
            if message.get("event") == "step":
                arrived = time.monotonic() - start
                break
            if time.monotonic() - start > 30:
                break
    wait_finished(client, run_id, 60)
    return arrived, posted


def watch(base: str, run_id: str, record: dict, deadline: float) -> None:
    """One SSE viewer in a thread, as a browser tab would be: every event with its arrival time."""
    try:
        with (
            httpx.Client(base_url=base, timeout=30) as client,
            client.stream("GET", f"/api/runs/{run_id}/events") as response,
        ):
            record["joined"] = time.monotonic()
            for message in read_sse(response):
                now = time.monotonic()
                if "id" in message:
                    event = json.loads(message["data"])
                    record["events"].append((int(message["id"]), now, event))
                    if event["type"] == "finished" or now > deadline:
                        break
    except httpx.HTTPError as error:
        record["error"] = repr(error)


def epoch_run(live: Server, epochs: int, attached: bool) -> tuple[float, dict, float]:
    """Median epoch `seconds` (first epoch left out) of one run, with or without a viewer; the events
    the viewer saw; the cores other processes kept busy meanwhile."""
    client = live.client
    wait_idle(client)
    other = OtherLoad().start()
    run_id = client.post("/api/runs", json=C_SPEC | {"epochs": epochs}).raise_for_status().json()["id"]
    record: dict = {"events": [], "joined": math.nan, "error": None}
    thread = None
    if attached:
        thread = threading.Thread(target=watch, args=(live.base, run_id, record, time.monotonic() + 120))
        thread.daemon = True
        thread.start()
    run = wait_finished(client, run_id, 120)
    if thread is not None:
        thread.join(timeout=30)
    seconds = [e["seconds"] for e in run["epochs"][1:]] or [e["seconds"] for e in run["epochs"]]
    return statistics.median(seconds), record, other.stop()


def ratio_interval(top: list[float], bottom: list[float], rounds: int = 2000) -> tuple[float, float]:
    """90% bootstrap interval of median(top) / median(bottom), resampling whole runs (seeded)."""
    draw = random.Random(0)
    ratios = sorted(
        statistics.median(draw.choices(top, k=len(top)))
        / statistics.median(draw.choices(bottom, k=len(bottom)))
        for _ in range(rounds)
    )
    return ratios[int(0.05 * rounds)], ratios[int(0.95 * rounds) - 1]


def line_excess(points: list[tuple[int, float]]) -> list[float]:
    """How late each (step, arrival) is against a least-squares line through them, from the earliest."""
    if len(points) < 3:
        return []
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx if sxx else 0.0
    residuals = [y - (my + slope * (x - mx)) for x, y in zip(xs, ys, strict=True)]
    low = min(residuals)
    return [r - low for r in residuals]


def arrival_analysis(records: list[dict]) -> dict:
    """(a0) from the stamps; (a2) from arrivals only, over the step events of the attached runs."""
    latencies, gaps, excess, true_excess, out_of_order = [], [], [], [], 0
    for record in records:
        ids = [event_id for event_id, _, _ in record["events"]]
        out_of_order += sum(b <= a for a, b in itertools.pairwise(ids))
        steps = [(at, e) for _, at, e in record["events"] if e["type"] == "step"]
        by_epoch: dict[int, list] = {}
        for at, event in steps:
            by_epoch.setdefault(event["epoch"], []).append((at, event))
        for epoch_steps in by_epoch.values():
            # the first epoch's extra early events (steps 1, 2, 4, ...) are not evenly spaced: use the rest
            regular = epoch_steps if len(epoch_steps) < 8 else epoch_steps[len(epoch_steps) // 10 :]
            gaps += [b[0] - a[0] for a, b in itertools.pairwise(regular)]
            excess += line_excess([(e["step"], a) for a, e in regular])
            lags = [a - e[STAMP] for a, e in regular if STAMP in e and e[STAMP] >= record["joined"]]
            latencies += lags
            if lags:
                true_excess += [lag - min(lags) for lag in lags]
    return {
        "latency": (quantile(latencies, 0.5), quantile(latencies, 0.95)),
        "n": len(latencies),
        "gap": (quantile(gaps, 0.05), quantile(gaps, 0.5), quantile(gaps, 0.95)),
        "excess": (quantile(excess, 0.5), quantile(excess, 0.95)),
        "true_excess": (quantile(true_excess, 0.5), quantile(true_excess, 0.95)),
        "out_of_order": out_of_order,
        "steps": len(gaps),
    }


# ---------------------------------------------------------------------------------------------------
# The report


def environment() -> str:
    def version(name: str) -> str:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return "-"

    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    return (
        f"{os.cpu_count()} CPU cores, Python {sys.version.split()[0]}, uvicorn {version('uvicorn')} "
        f"(http: {http}, loop: {loop}), sse-starlette {version('sse-starlette')}, "
        f"starlette {version('starlette')}, fastapi {version('fastapi')}, {date_today()}"
    )


def date_today() -> str:
    return time.strftime("%Y-%m-%d")


def fan_out_table(levels: list[Level]) -> list[str]:
    lines = [
        "| server | N | complete | events/s per stream | deliveries/s | latency p50 / p95 / p99 ms "
        "| spread p99 ms | server CPU | workers CPU | busiest client CPU | other load | server us/delivery "
        "| epoch s | verdict |",
        "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for lv in levels:
        latency = " / ".join(ms(x) for x in lv.latency)
        workers = "-" if lv.workers_cpu != lv.workers_cpu else f"{lv.workers_cpu:.0%}"
        epoch = "-" if lv.epoch_s != lv.epoch_s else f"{lv.epoch_s:.3f}"
        problem = f" ({lv.n - lv.complete} incomplete, e.g. {lv.first_error})" if lv.first_error else ""
        lines.append(
            f"| {lv.server} | {lv.n} | {lv.complete}/{lv.n} | {lv.events_per_run_s:.1f} "
            f"| {lv.deliveries_s:.0f} | {latency} | {ms(lv.spread_p99)} | {lv.server_cpu:.0%} | {workers} "
            f"| {lv.client_cpu:.0%} | {lv.other:.2f} "
            f"| {lv.us_per_delivery:.0f} | {epoch} | {verdict(lv.held)}{noisy(lv.other)}{problem} |"
        )
    return lines


def report(results: dict, plan: Plan, pristine: bool, elapsed: float) -> str:
    a1, a = results["a1"], results["a"]
    b, c = results["b"], results["c"]
    real, transport = results["real"], results["transport"]
    a0_ok = None if a["n"] == 0 else a["latency"][1] <= TARGET_A_P95
    rows = []
    if a["n"]:
        rows.append(
            (
                "a0",
                "step event, worker -> SSE client, real server, 1 viewer (stamp added in the worker): "
                f"p50 / p95 ms (n={a['n']})",
                f"{ms(a['latency'][0])} / {ms(a['latency'][1])}",
                "p95 <= 50 ms",
                verdict(a0_ok),
            )
        )
    else:
        rows.append(("a0", "worker -> client latency (not measurable with --pristine)", "n/a", "", "n/a"))
    a1_ok = a1.latency[1] <= TARGET_A_P95 and a1.complete == a1.n
    rows.append(
        (
            "a1",
            f"same code path without training (EventLog -> encode_event -> api.run_events -> uvicorn), "
            f"1 viewer, {plan.a1_rate:g} events/s: p50 / p95 / p99 ms",
            " / ".join(ms(x) for x in a1.latency),
            "p95 <= 50 ms",
            verdict(a1_ok),
        )
    )
    rows.append(
        (
            "a2",
            "real server, arrivals only, step events: gap p5 / p50 / p95 ms; lateness against a line "
            "fitted per epoch p50 / p95 ms"
            + (" (the stamps' own lateness over each epoch's fastest: p50 / p95 ms)" if a["n"] else "")
            + f"; ids out of order: {a['out_of_order']}",
            " / ".join(ms(x) for x in a["gap"])
            + "; "
            + " / ".join(ms(x) for x in a["excess"])
            + (f" ({' / '.join(ms(x) for x in a['true_excess'])})" if a["n"] else ""),
            "(information)",
            "-",
        )
    )
    for name, times in b.items():
        rows.append(
            (
                "b",
                f"POST /api/runs -> first step at the client, {name}, warm pool, {len(times['first'])} runs: "
                f"median / max ms (the 201 alone: median {ms(statistics.median(times['post']))})",
                f"{ms(statistics.median(times['first']))} / {ms(max(times['first']))}",
                "<= 500 ms (every run)",
                verdict(max(times["first"]) <= TARGET_B),
            )
        )
    ratio = c["attached"] / c["none"]
    low, high = ratio_interval(c["all_attached"], c["all_none"])
    rows.append(
        (
            "c",
            f"epoch seconds with one SSE viewer / with none (mlp 512x2 on digits, batch 16, "
            f"{plan.c_epochs} epochs, {C_SPEC['step_events_per_epoch']} step events per epoch, "
            f"{plan.c_reps} pairs): median {c['attached']:.4f} / {c['none']:.4f} s "
            f"(all runs: {' '.join(f'{x:.3f}' for x in c['all_attached'])} | "
            f"{' '.join(f'{x:.3f}' for x in c['all_none'])}); other load up to {c['other']:.2f} cores",
            f"{ratio:.3f} (90% interval {low:.2f}-{high:.2f})",
            "<= 1.05",
            verdict(ratio <= TARGET_C_RATIO) + noisy(c["other"]),
        )
    )
    held_real = largest_held(real)
    rows.append(
        (
            "d",
            f"largest N held: real server, {WORKERS} workers x 1 thread training, {WORKERS} live runs "
            f"at {rate_range(real)} events/s; p99 "
            + ("latency" if real and real[0].stamped else "spread")
            + " <= 100 ms and no viewer missing an event",
            f"{held_real} (ladder {', '.join(str(lv.n) for lv in real)})",
            ">= 500",
            verdict(held_real >= TARGET_D_VIEWERS) + noisy(first_failure_load(real)),
        )
    )
    held_transport = largest_held(transport)
    rows.append(
        (
            "d'",
            f"largest N held: same code path without training, {plan.streams} streams at {plan.rate:g} "
            "events/s",
            f"{held_transport} (ladder {', '.join(str(lv.n) for lv in transport)})",
            "(information)",
            "-",
        )
    )
    out = [
        f"## bench/stream.py{' --quick' if plan.quick else ''}{' --pristine' if pristine else ''}",
        "",
        environment() + f"; took {elapsed:.0f} s",
        "",
        f"Other processes on this machine kept {results['other']:.2f} cores busy on average during the run; "
        f"* marks a verdict measured while they kept more than {NOISY_CORES:g} cores busy.",
        "",
        "| | measure | result | target | verdict |",
        "|---|---|---|---|---|",
    ]
    out += [f"| {' | '.join(row)} |" for row in rows]
    out += ["", "### Fan-out, per N", ""] + fan_out_table(transport + real) + [""]
    out += [line for line in NOTES.format(**vars_for_notes(plan, pristine)).splitlines()]
    return "\n".join(out)


def vars_for_notes(plan: Plan, pristine: bool) -> dict:
    return {
        "window": plan.window,
        "procs": plan.client_procs,
        "margin": int(SPREAD_MARGIN * 1000),
        "stamping": "as is (--pristine): no stamps, so no a0"
        if pristine
        else "with the workers' pipe wrapped to add the stamp: one more JSON field per event",
    }


NOTES = """\
Notes on what each figure means:

- a0 is the target's own definition: time.monotonic() taken in the worker process as it sends the
  event down its pipe (one clock for every process on Linux), minus the arrival at a viewer. The
  server is `uvicorn app.main:app` {stamping}.
  Events that arrived as replay (sent before the viewer joined) are left out.
- a1 isolates the web path: the project's own api.router, EventLog, encode_event and
  EventSourceResponse under the same uvicorn, fed by a task instead of the pool; no training competes.
- a2 needs no stamp, but cannot tell training jitter from delivery delay: a step that trained slowly
  and an event that was delivered late look alike. It bounds jitter, not latency; with stamps, the
  figure in brackets is the true lateness over each epoch's fastest event, for comparison.
- b is wall time at the client: POST, the 201, opening the stream, the worker loading data, the first
  step, the pipe, the loop, the stream.
- c alternates the two arms (ABBA) so that drift hits both; both arms poll GET /api/runs/{{id}} alike.
  On this machine the median epoch of a run moves by +-15% from run to run (0.17-0.24 s, in both
  arms alike), far more than the 5% asked for: the interval, from resampling whole runs, says how far
  the ratio can be trusted; more pairs narrow it.
- d: viewers are raw HTTP/1.1 connections in {procs} client processes (asyncio protocols that de-chunk
  and read only the id and the stamp), so a client costs a few microseconds per event; their CPU share
  is in the table. Each level starts fresh runs, opens all viewers, measures {window:g} s of streaming,
  then cancels the runs: every viewer must end with the `finished` event and ids 1..last in order.
  Latency counts events created after the last viewer joined; "spread" is the arrival after the
  first viewer that got the same id (counted for events first seen {margin} ms after all joined).
- This machine's cores are shared by everything: {procs} client processes, the server's event loop,
  and, in the real-server rows, two workers that each keep a core busy training. Two workers on two
  cores leave the event loop only what the scheduler takes back from them, so the real-server ladder
  measures the contended case, and the transport rows the capacity of the web path alone.
- "4 running runs" need 4 workers; with workers=2 two would wait in the queue, so the real-server
  ladder streams 2 live runs (N/2 viewers each), which gives the same N x ~20 deliveries per second.
"""


# ---------------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer repetitions and levels (under a minute)")
    parser.add_argument(
        "--pristine", action="store_true", help="the real server exactly as `uvicorn app.main:app`"
    )
    parser.add_argument("--levels", help="viewer counts for the fan-out ladder, e.g. 50,100,200")
    parser.add_argument("--window", type=float, help="seconds of streaming measured per fan-out level")
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    if args.levels:
        levels = tuple(sorted({min(max(int(n), 1), 2000) for n in args.levels.split(",")}))
        plan = Plan(**(vars(plan) | {"levels": levels}))
    if args.window:
        plan = Plan(**(vars(plan) | {"window": min(max(args.window, 1.0), 30.0)}))
    raise_open_files_limit()
    started = time.monotonic()
    overall = OtherLoad().start()
    c_other: list[float] = []
    results: dict = {}
    clients = Clients(plan.client_procs)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-stream-") as tmp:
            data_dir = Path(tmp)
            log("transport-only server (the project's SSE endpoint, no training)")
            (data_dir / "transport").mkdir()
            with launched("serve_transport", data_dir / "transport") as live:
                results["a1"] = fan_out_transport(live, clients, 1, 1, plan.a1_rate, plan.a1_seconds)
                log(f"  a1: p95 {ms(results['a1'].latency[1])} ms")
                results["transport"] = ladder(
                    lambda n: fan_out_transport(live, clients, n, plan.streams, plan.rate, plan.window),
                    plan.levels,
                    clients,
                    "transport",
                )
            log(f"real server, {WORKERS} workers x 1 thread: waiting for the workers to load torch")
            (data_dir / "real").mkdir()
            with real_server(data_dir / "real", args.pristine) as live:
                live.wait_ready_workers(WORKERS, timeout=120)
                results["b"] = {}
                for name in B_SPECS:
                    results["b"][name] = {"first": [], "post": []}
                for _ in range(plan.b_reps):
                    for name, spec in B_SPECS.items():
                        first, posted = first_step(live, spec)
                        results["b"][name]["first"].append(first)
                        results["b"][name]["post"].append(posted)
                log("  b: " + ", ".join(f"{k} max {ms(max(v['first']))} ms" for k, v in results["b"].items()))
                arms: dict[bool, list[float]] = {False: [], True: []}
                records = []
                for rep in range(plan.c_reps):
                    for attached in (False, True) if rep % 2 == 0 else (True, False):
                        seconds, record, other = epoch_run(live, plan.c_epochs, attached)
                        arms[attached].append(seconds)
                        c_other.append(other)
                        if attached:
                            records.append(record)
                results["c"] = {
                    "none": statistics.median(arms[False]),
                    "attached": statistics.median(arms[True]),
                    "all_none": arms[False],
                    "all_attached": arms[True],
                    "other": max(c_other),
                }
                results["a"] = arrival_analysis(records)
                log(f"  c: ratio {results['c']['attached'] / results['c']['none']:.3f}")
                results["real"] = ladder(
                    lambda n: fan_out_real(live, clients, n, plan.window), plan.levels, clients, "real"
                )
    finally:
        clients.close()
    results["other"] = overall.stop()
    print(report(results, plan, args.pristine, time.monotonic() - started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
