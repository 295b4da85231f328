"""A classroom on one server: many visitors, viewers and stalled clients at once, on 127.0.0.1.

    python bench/load.py [--quick] [--visitors 200] [--viewers 300] [--stalled 20] [--deadline 600]

One real server (`uvicorn app.main:app`, started here through tests.server.running_server and stopped at
the end) with its embedded pool on the machine's defaults, and, all at once:

  visitors  --visitors distinct identities (one httpx client and cookie jar each), arriving over --ramp
            seconds: GET the playground page (the first response sets the signed `d2l_visitor` cookie),
            POST /api/runs with a small run, then read its event stream to the end;
  viewers   --viewers more readers of those same runs, each opened (0-1 s) after the run was posted, so
            they follow live runs from the queue to `finished`;
  stalled   --stalled raw sockets (SO_RCVBUF 4096) that ask for the replay of a large finished run (the
            teacher's, trained before the load) and never read a byte;
  probes    GET /healthz 20 times a second from a process of its own, the same before the load (idle
            baseline) and during it.

Measured: /healthz, POST and step delivery p50/p95/p99 (against the idle baseline taken in the same
run), the web process's RSS (every 100 ms from /proc, web process only), and completeness: every
accepted run ends `done`, every reader's ids are exactly 1..N with `finished` last, N being the run's
event count in its export. Step delivery is measured twice: at the clients, from a time.monotonic()
stamp that the worker adds to each event as it sends it (bench/stream.py's wrapped worker pipe; --pristine
runs the server unwrapped and that row reads n/a), and by the server's own histogram
`playground_step_delivery_seconds` (runs layer -> write to a viewer; bucket bounds only).

To say why a figure misses its target, the bench also wraps the app (in the server process it starts;
app/ is unchanged) in a LoopWatch: a 5 ms ticker on the event loop, the loop thread's stack sampled
whenever the ticker is over 50 ms late, and every garbage collection timed; the report gives these
and a timeline of the load phase (queue depth, latencies, CPU of web process, workers and machine).
--server-nice is an experiment on top: it renices the web process once started (not its workers),
to see what it does with the CPU that other processes on a shared machine take.

Everything is bounded in count and time (--deadline, 600 s by default, over the whole run) and stops
by itself; Ctrl-C and SIGTERM stop the server and the client processes too.
"""

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import multiprocessing
import os
import random
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from bench.stream import (  # noqa: E402
    FINISHED,
    OtherLoad,
    Viewer,
    cpu_seconds,
    environment,
    log,
    machine_busy_seconds,
    ms,
    quantile,
    raise_open_files_limit,
    verdict,
)
from tests.server import Server, running_server  # noqa: E402

TARGET_HEALTHZ_P99 = 0.100
TARGET_STEP_P99 = 0.100
SEND_TIMEOUT_S = 5.0  # PLAYGROUND_SSE_SEND_TIMEOUT_S for the bench: a non-reading viewer is dropped after it
PROBE_INTERVAL = 0.05  # /healthz probes: 20 a second
RSS_INTERVAL = 0.1
COOKIE = "d2l_visitor"
QUANTILES = (0.5, 0.95, 0.99)

# Small runs, as a student's first try: alternately linear regression (90 events, ~60 KB of SSE) and a
# softmax on 2-D blobs (39 events, ~250 KB: its decision-boundary snapshots are the bulk).
SMALL_SPECS = (
    {"model": "linreg", "epochs": 2, "n_examples": 200},
    {"model": "softmax", "dataset": "blobs", "epochs": 2, "n_examples": 300, "batch_size": 16},
)
PAGES = {"linreg": "/play/linreg", "softmax": "/play/softmax", "mlp": "/play/mlp"}
# The teacher's run that the stalled clients ask to replay: one step event per step, ~2,000 events and
# ~200 KB of SSE per epoch (a linear-regression step event comes with its fitted-line snapshot).
BIG_SPEC = {"model": "linreg", "n_examples": 10000, "batch_size": 10, "step_events_per_epoch": 1000}


@dataclass(frozen=True)
class Plan:
    visitors: int
    viewers: int
    stalled: int
    ramp: float  # seconds over which the visitors arrive
    big_epochs: int
    baseline_runs: int
    baseline_probe_s: float
    client_procs: int
    quick: bool


# 25 epochs: ~50,000 events, ~6 MB of replay, more than loopback's socket buffers hold (4 MB at most)
FULL = Plan(200, 300, 20, 10.0, 25, 5, 5.0, 2, False)
QUICK = Plan(20, 30, 4, 3.0, 25, 3, 3.0, 2, True)


# ---------------------------------------------------------------------------------------------------
# Helpers


def quantiles(values: list[float]) -> tuple[float, ...]:
    return tuple(quantile(values, q) for q in QUANTILES)


def three(values: tuple[float, ...]) -> str:
    return " / ".join(ms(x) for x in values)


def ratio(a: float, b: float) -> str:
    return "n/a" if not (a == a and b == b) or b <= 0 else f"{a / b:.1f}x"


def schedstat(pid: int) -> tuple[float, float]:
    """Seconds the process's main thread (its event loop) has run on a CPU, and has waited, ready to
    run, for one (the kernel's run-queue wait: time taken by other processes)."""
    try:
        on_cpu, waiting = Path(f"/proc/{pid}/task/{pid}/schedstat").read_text().split()[:2]
        return int(on_cpu) / 1e9, int(waiting) / 1e9
    except (OSError, ValueError):
        return math.nan, math.nan


def rss_kb(pid: int, field: str = "VmRSS") -> int:
    """A `kB` line of /proc/<pid>/status (VmRSS: now; VmHWM: the kernel's own peak); 0 when gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


class Sampler(threading.Thread):
    """Every 100 ms: the web process's VmRSS, and the CPU seconds of the web process, of its training
    workers and of the whole machine (for the timeline)."""

    def __init__(self, live: Server):
        super().__init__(daemon=True, name="sampler")
        self.live, self.pid = live, live.process.pid
        # t, rss kB, web CPU s, workers CPU s, machine busy s, loop thread on CPU s, loop thread waiting s
        self.samples: list[tuple[float, int, float, float, float, float, float]] = []
        self.halt = threading.Event()

    def run(self) -> None:
        workers, refreshed = [], -math.inf
        while not self.halt.is_set():
            now = time.monotonic()
            if now - refreshed > 5:  # a worker that died is replaced: look again now and then
                with contextlib.suppress(OSError, subprocess.SubprocessError):
                    workers, refreshed = self.live.worker_pids(), now
            busy = sum(cpu_seconds(pid) for pid in workers)
            sample = (now, rss_kb(self.pid), cpu_seconds(self.pid), busy, machine_busy_seconds())
            self.samples.append(sample + schedstat(self.pid))
            self.halt.wait(RSS_INTERVAL)

    def between(self, since: float, until: float) -> list[tuple]:
        return [s for s in self.samples if since <= s[0] <= until]

    def loop_thread(self, since: float, until: float) -> tuple[float, float]:
        """Shares of wall time the loop thread ran, and waited for a CPU, between two times."""
        window = self.between(since, until)
        if len(window) < 2:
            return math.nan, math.nan
        wall = window[-1][0] - window[0][0]
        return (window[-1][5] - window[0][5]) / wall, (window[-1][6] - window[0][6]) / wall

    def peak_mb(self, since: float = -math.inf, until: float = math.inf) -> float:
        return max((s[1] for s in self.between(since, until)), default=0) / 1024

    def median_mb(self, since: float, until: float) -> float:
        values = [s[1] for s in self.between(since, until)]
        return statistics.median(values) / 1024 if values else math.nan


def listen_counters() -> dict[str, int]:
    """The kernel's TCP listen-queue counters (whole machine): connections refused or delayed because
    a server did not accept() them fast enough."""
    try:
        lines = [line.split() for line in Path("/proc/net/netstat").read_text().splitlines()]
    except OSError:
        return {}
    for names, values in itertools.pairwise(lines):
        if names and names[0] == "TcpExt:" and values and values[0] == "TcpExt:":
            table = dict(zip(names[1:], (int(v) for v in values[1:]), strict=False))
            return {k: table.get(k, 0) for k in ("ListenOverflows", "ListenDrops", "TCPReqQFullDrop")}
    return {}


def parse_metrics(text: str) -> dict:
    """The two series the bench reads from /metrics: the SSE gauge and the delivery histogram."""
    out = {"sse_clients": math.nan, "buckets": {}, "count": 0.0}
    for line in text.splitlines():
        if line.startswith("playground_sse_clients "):
            out["sse_clients"] = float(line.split()[1])
        elif line.startswith("playground_step_delivery_seconds_bucket{"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            out["buckets"][math.inf if le == "+Inf" else float(le)] = float(line.rsplit(" ", 1)[1])
        elif line.startswith("playground_step_delivery_seconds_count "):
            out["count"] = float(line.split()[1])
    return out


def scrape(client: httpx.Client) -> dict:
    return parse_metrics(client.get("/metrics", timeout=30).text)


def histogram_quantiles(before: dict, after: dict) -> tuple[tuple[float, ...], int]:
    """Upper bucket bounds holding p50/p95/p99 of the observations made between two scrapes."""
    bounds = sorted(after["buckets"])
    counts = [after["buckets"][b] - before["buckets"].get(b, 0.0) for b in bounds]
    total = counts[-1] if counts else 0
    result = []
    for q in QUANTILES:
        bound = math.nan
        for upper, cumulative in zip(bounds, counts, strict=True):
            if total and cumulative >= q * total:
                bound = upper
                break
        result.append(bound)
    return tuple(result), int(total)


def bucket(bound: float) -> str:
    if bound != bound:
        return "n/a"
    return "> 2500" if bound == math.inf else f"<= {bound * 1000:g}"


# ---------------------------------------------------------------------------------------------------
# Inside the web process (bench only, app/ unchanged): event-loop lag, what the loop was doing when it
# stalled, and garbage-collector pauses, served at /bench/loop


STALL = 0.05  # a loop that has not run its 5 ms ticker for this long is stalled: sample its stack
TICK = 0.005


class LoopWatch:
    """A ticker task on the server's event loop records how late each 5 ms sleep wakes; a thread
    samples the loop thread's stack whenever the ticker is more than STALL late; gc.callbacks time
    every collection."""

    def __init__(self):
        self.lags: list[tuple[float, float]] = []  # (time, lag) of ticks later than 2 ms
        self.ticks = 0
        self.stacks: dict[str, list[float]] = {}  # stack -> seconds it was seen stalled (per sample)
        # (time, seconds, generation, CPU seconds, objects in the oldest generation after a full one)
        self.gc_pauses: list[tuple[float, float, int, float, int]] = []
        self.beat = time.monotonic()
        self.loop_thread = threading.get_ident()
        self._gc_start = self._gc_cpu = 0.0

    def start(self) -> None:
        import gc

        self.loop_thread = threading.get_ident()
        asyncio.get_running_loop().create_task(self.ticker())
        threading.Thread(target=self.sampler, daemon=True, name="bench-loop-watch").start()
        gc.callbacks.append(self.on_gc)

    async def ticker(self) -> None:
        while True:
            start = time.monotonic()
            await asyncio.sleep(TICK)
            now = time.monotonic()
            self.beat, self.ticks = now, self.ticks + 1
            if now - start - TICK > 0.002:
                self.lags.append((start, now - start - TICK))

    def sampler(self) -> None:
        import traceback

        while True:
            time.sleep(0.02)
            if time.monotonic() - self.beat < STALL:
                continue
            frame = sys._current_frames().get(self.loop_thread)
            if frame is None:
                continue
            frames = traceback.extract_stack(frame)[::-1]  # innermost first
            # the innermost two frames, then the innermost three of the project's own (who asked)
            ours = [f for f in frames[2:] if f.filename.startswith(str(ROOT / "app"))][:3]
            lines = [frame_name(f) for f in frames[:2]] + (
                ["..."] + [frame_name(f) for f in ours] if ours else []
            )
            self.stacks.setdefault(" < ".join(lines), []).append(time.monotonic())

    def on_gc(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._gc_start, self._gc_cpu = time.perf_counter(), time.thread_time()
        elif (seconds := time.perf_counter() - self._gc_start) > 0.005:
            generation = info.get("generation", -1)
            cpu = time.thread_time() - self._gc_cpu  # wall minus this: time the thread was not running
            import gc

            survivors = len(gc.get_objects(generation=2)) if generation == 2 else 0
            self.gc_pauses.append((time.monotonic(), seconds, generation, cpu, survivors))

    def report(self) -> dict:
        import gc

        return {
            "lags": self.lags,
            "ticks": self.ticks,
            "stacks": self.stacks,
            "gc": self.gc_pauses,
            "gc_objects": len(gc.get_objects()),
            "gc_stats": gc.get_stats(),
        }


def frame_name(summary) -> str:
    """Where a frame is: `app/runs/store.py:88 finish`, `sqlalchemy/orm/session.py:1419 commit`."""
    where = summary.filename.replace(str(ROOT) + "/", "").rsplit("site-packages/", 1)[-1]
    if "/lib/python3." in where:
        where = where.rsplit("/lib/python3.", 1)[-1].split("/", 1)[-1]
    return f"{where}:{summary.lineno} {summary.name}"


class Instrumented:
    """A plain ASGI wrapper: starts the LoopWatch with the app's lifespan, answers GET /bench/loop."""

    def __init__(self, app):
        self.app, self.watch = app, LoopWatch()

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan" and not self.watch.ticks:
            self.watch.start()
        if scope["type"] == "http" and scope["path"] == "/bench/loop":
            body = json.dumps(self.watch.report()).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


def serve_instrumented(port: int) -> None:
    """bench.stream.serve_stamped_real (workers stamp each event) with the LoopWatch around the app."""
    import uvicorn

    import app.runs.pool
    from bench.stream import stamped_worker_main

    app.runs.pool.worker_main = stamped_worker_main
    from app.main import app as web

    uvicorn.run(Instrumented(web), host="127.0.0.1", port=port, access_log=False)  # as `serve` runs it


# ---------------------------------------------------------------------------------------------------
# /healthz prober: a process of its own, so the clients' event loops do not delay its clock


def probe_main(base: str, connection) -> None:
    """GET /healthz every PROBE_INTERVAL over one keep-alive connection until told to stop; send back
    (sent at, seconds, status, runs queued) per probe (status 0: no answer within 10 s)."""
    records = []
    with httpx.Client(base_url=base, timeout=10) as client:
        next_at = time.monotonic()
        while not connection.poll(max(0.0, next_at - time.monotonic())):
            start = time.monotonic()
            queued = -1
            try:
                response = client.get("/healthz")
                status = response.status_code
                with contextlib.suppress(ValueError, TypeError):
                    queued = int(response.json().get("queued", -1))
            except httpx.HTTPError:
                status = 0
            records.append((start, time.monotonic() - start, status, queued))
            next_at = max(next_at + PROBE_INTERVAL, time.monotonic())
    connection.recv()
    connection.send(records)


class Prober:
    def __init__(self, base: str):
        context = multiprocessing.get_context("spawn")
        self.pipe, child = context.Pipe()
        self.process = context.Process(target=probe_main, args=(base, child), daemon=True, name="healthz")
        self.process.start()
        child.close()

    def stop(self) -> list[tuple[float, float, int, int]]:
        self.pipe.send("stop")
        records = self.pipe.recv() if self.pipe.poll(30) else []
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
        return records


# ---------------------------------------------------------------------------------------------------
# Visitors and viewers: asyncio in a few client processes


async def read_stream(port: int, path: str, run_id: str, cookie: str | None, until: float) -> dict:
    """One SSE reader (bench.stream.Viewer: raw HTTP/1.1, de-chunked, id + stamp + arrival per message)."""
    loop = asyncio.get_running_loop()
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n"
    if cookie:
        request += f"Cookie: {COOKIE}={cookie}\r\n"
    viewer = Viewer((request + "\r\n").encode(), run_id)
    try:
        await asyncio.wait_for(loop.create_connection(lambda: viewer, "127.0.0.1", port), 30)
        await asyncio.wait_for(asyncio.shield(viewer.done), max(0.1, until - time.monotonic()))
    except (OSError, TimeoutError) as error:
        viewer.fail(f"{type(error).__name__}: {error}" if str(error) else type(error).__name__)
    record = viewer.result()
    record["joined"] = viewer.headers_at if viewer.headers_at is not None else math.nan
    return record


async def loop_lag(samples: list[tuple[float, float]], halt: asyncio.Event) -> None:
    """How late a 10 ms sleep wakes up: the client's own delay, included in its arrival times."""
    while not halt.is_set():
        start = time.monotonic()
        await asyncio.sleep(0.01)
        samples.append((start, time.monotonic() - start - 0.01))


async def drive(job: dict) -> dict:
    """This process's visitors (each with its extra viewers); sequential for the idle baseline."""
    port, base, until = job["port"], job["base"], job["until"]
    random_ = random.Random(job["seed"])
    readers: list[asyncio.Task] = []
    visits: list[dict] = []
    lags: list[tuple[float, float]] = []
    halt = asyncio.Event()
    lag_task = asyncio.create_task(loop_lag(lags, halt))
    limits = httpx.Limits(max_connections=4, max_keepalive_connections=2)
    # one TLS context for all (unused over http): httpx makes one per client otherwise, ~25 ms of CPU
    # each, which stalled this process's loop while the visitors arrived
    tls = ssl.create_default_context()

    async def visitor(index: int, spec: dict, start_at: float, extra: int) -> None:
        visit = {
            "index": index,
            "model": spec["model"],
            "at": math.nan,
            "page_s": math.nan,
            "post_s": math.nan,
            "status": None,
            "error": None,
            "run": None,
            "cookie": None,
            "extra": extra,
        }
        visits.append(visit)
        await asyncio.sleep(max(0.0, start_at - time.monotonic()))
        stage = "page"
        try:
            async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits, verify=tls) as client:
                started = visit["at"] = time.monotonic()
                page = await client.get(PAGES[spec["model"]])
                visit["page_s"] = time.monotonic() - started
                visit["cookie"] = client.cookies.get(COOKIE)
                if page.status_code != 200:
                    visit["error"] = f"page {page.status_code}"
                started, stage = time.monotonic(), "POST"
                response = await client.post("/api/runs", json=spec)
                visit["post_s"] = time.monotonic() - started
                visit["status"] = response.status_code
                if response.status_code != 201:
                    visit["error"] = f"POST {response.status_code}: {response.text[:200]}"
                    return
                run_id = response.json()["id"]
                visit["run"] = run_id
                path = f"/api/runs/{run_id}/events"
                for _ in range(extra):
                    readers.append(asyncio.create_task(delayed_viewer(path, run_id, random_.uniform(0, 1))))
                own = await read_stream(port, path, run_id, visit["cookie"], until)
                own["kind"] = "visitor"
                visit["reader"] = own
        except httpx.HTTPError as error:
            visit["error"] = f"{stage}: {type(error).__name__} {error}".strip()

    async def delayed_viewer(path: str, run_id: str, delay: float) -> dict:
        await asyncio.sleep(delay)
        record = await read_stream(port, path, run_id, None, until)
        record["kind"] = "viewer"
        return record

    cpu_start = time.process_time()
    if job["sequential"]:
        for index, spec, _, extra in job["visitors"]:
            await visitor(index, spec, time.monotonic(), extra)
    else:
        await asyncio.gather(*(visitor(*v) for v in job["visitors"]))
    viewers = await asyncio.gather(*readers)
    halt.set()
    await lag_task
    records = [v.pop("reader") for v in visits if "reader" in v] + list(viewers)
    return {"visits": visits, "readers": records, "lag": lags, "cpu": time.process_time() - cpu_start}


def client_main(job: dict, connection) -> None:
    try:
        connection.send(asyncio.run(drive(job)))
    except Exception as error:  # report, do not hang the parent
        connection.send({"crash": repr(error)})


def run_clients(jobs: list[dict], timeout: float) -> list[dict]:
    """One spawned process per job; their results, or a crash record for one that did not report."""
    context = multiprocessing.get_context("spawn")
    started = []
    for job in jobs:
        parent, child = context.Pipe()
        process = context.Process(target=client_main, args=(job, child), daemon=True, name="visitors")
        process.start()
        child.close()
        started.append((process, parent))
    results = []
    deadline = time.monotonic() + timeout
    for process, pipe in started:
        if pipe.poll(max(0.1, deadline - time.monotonic())):
            results.append(pipe.recv())
        else:
            results.append({"crash": "did not report before the deadline"})
        process.join(timeout=5)
        if process.is_alive():
            process.kill()
            process.join(timeout=5)
    return results


def client_jobs(live: Server, plan_visitors: list[tuple], procs: int, until: float, sequential: bool):
    port = int(live.base.rsplit(":", 1)[1])
    return [
        {
            "port": port,
            "base": live.base,
            "until": until,
            "visitors": plan_visitors[i::procs],
            "sequential": sequential,
            "seed": i,
        }
        for i in range(procs)
        if plan_visitors[i::procs]
    ]


# ---------------------------------------------------------------------------------------------------
# Stalled clients: raw sockets that send a request and never read


def open_stalled(base: str, path: str, count: int) -> list[socket.socket]:
    host, port = base.removeprefix("http://").rsplit(":", 1)
    sockets = []
    for _ in range(count):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window
        sock.settimeout(10)
        sock.connect((host, int(port)))
        sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n\r\n".encode()
        )
        sockets.append(sock)
    return sockets


def drain_stalled(sockets: list[socket.socket], seconds: float) -> dict:
    """Read what each socket holds (at most `seconds` in all): closed by the server before its response
    was complete (dropped), complete (the terminating chunk arrived), or still open."""
    outcome = {"dropped": 0, "complete": 0, "open": 0, "bytes": 0}
    deadline = time.monotonic() + seconds
    for sock in sockets:
        tail, closed = b"", False
        sock.settimeout(0.2)
        while time.monotonic() < deadline:
            try:
                data = sock.recv(1 << 16)
            except TimeoutError:
                break
            except OSError:
                closed = True
                break
            if not data:
                closed = True
                break
            outcome["bytes"] += len(data)
            tail = (tail + data)[-16:]
        complete = tail.endswith(b"\r\n0\r\n\r\n")
        outcome["complete" if complete else "dropped" if closed else "open"] += 1
    for sock in sockets:
        with contextlib.suppress(OSError):
            sock.close()
    return outcome


# ---------------------------------------------------------------------------------------------------
# Phases


def wait_finished(client: httpx.Client, run_id: str, until: float) -> dict:
    while time.monotonic() < until:
        run = client.get(f"/api/runs/{run_id}", timeout=30).json()
        if run["status"] in FINISHED:
            return run
        time.sleep(0.5)
    raise TimeoutError(f"run {run_id} did not finish in time")


def wait_gauge(client: httpx.Client, want: float, until: float) -> tuple[float, list[tuple[float, float]]]:
    """Scrape the SSE gauge once a second until it reads `want` (or the time is up)."""
    seen = []
    while True:
        value = scrape(client)["sse_clients"]
        seen.append((time.monotonic(), value))
        if value == want or time.monotonic() >= until:
            return value, seen
        time.sleep(1)


def plan_visitors(count: int, viewers: int, ramp: float, seed: int) -> list[tuple]:
    """(index, spec, start time offset, extra viewers) per visitor; viewers dealt out round-robin."""
    draw = random.Random(seed)
    extra = [viewers // count + (i < viewers % count) for i in range(count)] if count else []
    return [(i, SMALL_SPECS[i % len(SMALL_SPECS)], draw.uniform(0, ramp), extra[i]) for i in range(count)]


def gather(results: list[dict]) -> dict:
    out = {"visits": [], "readers": [], "lag": [], "cpu": 0.0, "crashes": []}
    for result in results:
        if "crash" in result:
            out["crashes"].append(result["crash"])
            continue
        out["visits"] += result["visits"]
        out["readers"] += result["readers"]
        out["lag"] += result["lag"]
        out["cpu"] = max(out["cpu"], result["cpu"])
    return out


def verify(client: httpx.Client, clients: dict, until: float) -> dict:
    """Runs ended `done`; each reader got ids 1..N in order with `finished` last, N from the export;
    step-event latency (worker stamp -> arrival) for events that happened after the reader joined."""
    exports: dict[str, list[dict]] = {}
    statuses: dict[str, str] = {}
    unanswered = []  # POSTs that got no answer: did the server take the run? ask it as that visitor
    for visit in clients["visits"]:
        if visit["run"] is None and visit["cookie"] and visit["error"] and visit["error"].startswith("POST:"):
            mine = client.get("/api/runs", cookies={COOKIE: visit["cookie"]}, timeout=60)
            taken = mine.json() if mine.status_code == 200 else []
            unanswered.append(len(taken))
            if taken:
                visit["run"] = taken[0]["id"]
    for visit in clients["visits"]:
        run_id = visit["run"]
        if run_id is None or time.monotonic() > until:
            continue
        statuses[run_id] = client.get(f"/api/runs/{run_id}", timeout=60).json()["status"]
        exported = client.get(f"/api/runs/{run_id}/export.json", timeout=60)
        exports[run_id] = exported.json()["events"] if exported.status_code == 200 else []
    readers = clients["readers"]
    complete, lost, bad, first_problem = 0, 0, [], None
    step_latency: list[float] = []
    for reader in readers:
        events = exports.get(reader["run"], [])
        n = len(events)
        ids = reader["ids"]
        ok = (
            reader["error"] is None
            and reader["finished"]
            and n > 0
            and ids == list(range(1, n + 1))
            and events[-1].get("type") == "finished"
        )
        if ok:
            complete += 1
        else:
            lost += max(0, n - len(set(ids) & set(range(1, n + 1))))
            bad.append(reader)
            first_problem = first_problem or (
                f"run {reader['run']} ({reader['kind']}): "
                + (reader["error"] or f"{len(ids)} ids of {n}, finished={reader['finished']}")
            )
        for event_id, arrival, stamp in zip(ids, reader["arrivals"], reader["stamps"], strict=True):
            if (
                0 < event_id <= n
                and events[event_id - 1].get("type") == "step"
                and stamp == stamp
                and stamp >= reader["joined"]
            ):
                step_latency.append((arrival, arrival - stamp))
    accepted = [v for v in clients["visits"] if v["run"] is not None]
    return {
        "accepted": len(accepted),
        "unanswered": unanswered,
        "readers_expected": sum(1 + v["extra"] for v in accepted if v["status"] == 201),
        "done": sum(statuses.get(v["run"]) == "done" for v in accepted),
        "statuses": sorted(set(statuses.values())),
        "refused": [v["error"] for v in clients["visits"] if v["run"] is None],
        "readers": len(readers),
        "complete": complete,
        "lost_events": lost,
        "first_problem": first_problem,
        "step_latency": step_latency,
        "events": sum(len(e) for e in exports.values()),
        "identities": len({v["cookie"] for v in clients["visits"] if v["cookie"]}),
    }


# ---------------------------------------------------------------------------------------------------
# The run


def server_for(data_dir: Path, plan: Plan, pristine: bool, workers: int):
    settings = {
        "queue_limit": plan.visitors + plan.baseline_runs + 20,
        "sse_send_timeout_s": SEND_TIMEOUT_S,
    }
    if workers:
        settings["workers"] = workers
    if pristine:
        return running_server(data_dir, **settings)
    pythonpath = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return running_server(
        data_dir,
        command=lambda port: [sys.executable, "-c", f"import bench.load as b; b.serve_instrumented({port})"],
        extra_env={"PYTHONPATH": pythonpath},
        **settings,
    )


def renice_threads(pid: int, nice: int) -> None:
    """Every thread of the web process (not its workers, which have started) to this nice value; threads
    it starts later inherit it. Needs root for a negative value."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(ProcessLookupError):
            os.setpriority(os.PRIO_PROCESS, int(tid), nice)


def bench(plan: Plan, pristine: bool, workers: int, deadline: float, server_nice: int = 0) -> dict:
    results: dict = {"plan": plan}
    overall = OtherLoad().start()
    with (
        tempfile.TemporaryDirectory(prefix="bench-load-") as tmp,
        server_for(Path(tmp), plan, pristine, workers) as live,
    ):
        SERVER_PIDS.append(live.process.pid)
        client = live.client
        health = client.get("/healthz").json()
        results["workers"] = health.get("workers")
        log(f"server pid {live.process.pid}: waiting for {health.get('workers')} worker(s) to load torch")
        live.wait_ready_workers(health.get("workers") or 1, timeout=120)
        if server_nice:
            renice_threads(live.process.pid, server_nice)
        rss = Sampler(live)
        rss.start()
        try:
            # 1. Idle baseline: /healthz alone, then a few runs one after another with one reader each.
            time.sleep(1)
            idle_from = time.monotonic()
            prober = Prober(live.base)
            time.sleep(plan.baseline_probe_s)
            results["idle_probes"] = prober.stop()
            results["idle_window"] = (idle_from, time.monotonic())
            results["idle_rss"] = rss.median_mb(idle_from, time.monotonic())
            results["idle_thread"] = rss.loop_thread(idle_from, time.monotonic())
            metrics_before = scrape(client)
            baseline = plan_visitors(plan.baseline_runs, 0, 0, seed=1)
            jobs = client_jobs(live, baseline, 1, deadline, sequential=True)
            results["baseline"] = gather(run_clients(jobs, deadline - time.monotonic()))
            metrics_idle = scrape(client)
            results["idle_histogram"] = histogram_quantiles(metrics_before, metrics_idle)
            results["baseline_check"] = verify(client, results["baseline"], deadline)
            log(f"baseline: {len(results['idle_probes'])} probes, {plan.baseline_runs} runs one by one")

            # 2. The teacher's large run, trained to the end: what the stalled clients will replay.
            big = client.post("/api/runs", json=BIG_SPEC | {"epochs": plan.big_epochs}, timeout=30)
            big.raise_for_status()
            big_id = big.json()["id"]
            log(f"teacher's run {big_id} ({plan.big_epochs} epochs, ~{2000 * plan.big_epochs} events)")
            big_run = wait_finished(client, big_id, min(deadline, time.monotonic() + 180))
            results["big"] = {"id": big_id, "status": big_run["status"]}

            # 3. The class: stalled clients, then visitors and viewers, with /healthz probes throughout.
            load_from = time.monotonic()
            metrics_load_before = scrape(client)
            server_cpu_before = cpu_seconds(live.process.pid)
            listen_before = listen_counters()
            stalled = open_stalled(live.base, f"/api/runs/{big_id}/events", plan.stalled)
            time.sleep(1)
            results["gauge_stalled"] = scrape(client)["sse_clients"]  # stalled ones still being written to
            log(
                f"{plan.stalled} stalled clients on {big_id}; {plan.visitors} visitors over {plan.ramp:g} s, "
                f"{plan.viewers} viewers"
            )
            prober = Prober(live.base)
            start = time.monotonic() + 2.0  # the client processes take about a second to start
            visitors = [
                (i, spec, start + offset, extra)
                for i, spec, offset, extra in plan_visitors(plan.visitors, plan.viewers, plan.ramp, seed=0)
            ]
            # leave 60 s of the deadline for checking and stopping
            load_until = deadline - 60
            jobs = client_jobs(live, visitors, plan.client_procs, load_until, sequential=False)
            try:
                results["load"] = gather(run_clients(jobs, load_until - time.monotonic() + 15))
            finally:
                results["load_probes"] = prober.stop()
            load_to = time.monotonic()
            listen_after = listen_counters()
            results["listen"] = {k: listen_after[k] - listen_before.get(k, 0) for k in listen_after}
            results["load_seconds"] = load_to - start
            results["server_cpu"] = (cpu_seconds(live.process.pid) - server_cpu_before) / (
                load_to - load_from
            )
            results["load_histogram"] = histogram_quantiles(metrics_load_before, scrape(client))
            results["loop"] = None if pristine else client.get("/bench/loop", timeout=60).json()
            log(f"load over after {load_to - start:.1f} s; waiting for the SSE gauge to return to 0")

            # 4. Readers are done; stalled sockets still open: does the gauge return to 0?
            gauge, seen = wait_gauge(client, 0.0, min(deadline - 30, time.monotonic() + SEND_TIMEOUT_S + 10))
            results["gauge_end"] = gauge
            results["gauge_wait"] = seen[-1][0] - load_to
            results["stalled"] = drain_stalled(stalled, 10)
            results["load_rss_peak"] = rss.peak_mb(load_from, time.monotonic())
            results["load_start"], results["load_end"] = start, load_to
            results["load_thread"] = rss.loop_thread(start, load_to)
            results["check"] = verify(client, results["load"], deadline - 10)
        finally:
            rss.halt.set()
            rss.join(timeout=2)
        results["rss_peak"] = rss.peak_mb()
        results["samples"] = rss.samples
        results["hwm"] = rss_kb(live.process.pid, "VmHWM") / 1024
        results["rss_end"] = rss_kb(live.process.pid) / 1024
    results["other"] = overall.stop()
    return results


# ---------------------------------------------------------------------------------------------------
# The report


def report(r: dict, args, elapsed: float) -> str:
    plan: Plan = r["plan"]
    load, check, base = r["load"], r["check"], r["baseline"]
    idle_h = quantiles([p[1] for p in r["idle_probes"] if p[2] == 200])
    load_ok = [p[1] for p in r["load_probes"] if p[2] == 200]
    load_failed = sum(p[2] != 200 for p in r["load_probes"])
    load_h = quantiles(load_ok + [math.inf] * load_failed)
    post_idle = quantiles([v["post_s"] for v in base["visits"]])
    post_load = quantiles([v["post_s"] for v in load["visits"] if v["post_s"] == v["post_s"]])
    page_idle = quantiles([v["page_s"] for v in base["visits"]])
    page_load = quantiles([v["page_s"] for v in load["visits"] if v["page_s"] == v["page_s"]])
    step_idle = quantiles([lag for _, lag in r["baseline_check"]["step_latency"]])
    step_load = quantiles([lag for _, lag in check["step_latency"]])
    (hist_idle, n_idle), (hist_load, n_load) = r["idle_histogram"], r["load_histogram"]
    readers_expected = check["readers_expected"]
    runs_lost = plan.visitors - check["done"]
    rows = [
        (
            "/healthz (separate process, 20/s, keep-alive): p50 / p95 / p99 ms",
            f"{three(idle_h)} (n={len(r['idle_probes'])})",
            f"{three(load_h)} (n={len(r['load_probes'])}, {load_failed} unanswered)",
            f"{ratio(load_h[2], idle_h[2])}",
            "p99 <= 100 ms",
            verdict(load_h[2] <= TARGET_HEALTHZ_P99),
        ),
        (
            "POST /api/runs -> 201: p50 / p95 / p99 ms",
            f"{three(post_idle)} (n={len(base['visits'])})",
            f"{three(post_load)} (n={len(load['visits'])})",
            ratio(post_load[2], post_idle[2]),
            "(information)",
            "-",
        ),
        (
            "first page GET /play/<model> (a new connection; sets the cookie): p50 / p95 / p99 ms; "
            "the kernel's listen-queue overflows / drops during the load (whole machine)",
            three(page_idle),
            three(page_load)
            + f"; {r['listen'].get('ListenOverflows', 0)} / {r['listen'].get('ListenDrops', 0)}",
            ratio(page_load[2], page_idle[2]),
            "(information)",
            "-",
        ),
    ]
    rows.append(
        (
            "step delivery, worker stamp -> reader (client side, live events only): p50 / p95 / p99 ms",
            f"{three(step_idle)} (n={len(r['baseline_check']['step_latency'])})",
            f"{three(step_load)} (n={len(check['step_latency'])})",
            ratio(step_load[2], step_idle[2]),
            "p99 <= 100 ms",
            verdict(step_load[2] <= TARGET_STEP_P99) if step_load[2] == step_load[2] else "n/a",
        )
    )
    rows.append(
        (
            "step delivery, server histogram (runs layer -> write), bucket bounds: p50 / p95 / p99 ms",
            f"{' / '.join(bucket(b) for b in hist_idle)} (n={n_idle})",
            f"{' / '.join(bucket(b) for b in hist_load)} (n={n_load})",
            "-",
            "p99 <= 100 ms",
            verdict(hist_load[2] <= TARGET_STEP_P99) if hist_load[2] == hist_load[2] else "n/a",
        )
    )
    refused = check["refused"]
    rows.append(
        (
            "runs: posted / accepted / ended done (statuses seen)",
            "-",
            f"{plan.visitors} / {check['accepted']} / {check['done']} ({', '.join(check['statuses'])})"
            + (f"; {len(refused)} not accepted, e.g. {refused[0]}" if refused else "")
            + (
                f"; {len(check['unanswered'])} POSTs unanswered, of which the server holds "
                f"{sum(1 for n in check['unanswered'] if n)}"
                if check["unanswered"]
                else ""
            ),
            "-",
            "0 runs lost",
            verdict(runs_lost == 0),
        )
    )
    rows.append(
        (
            "readers (visitors' own + viewers) with ids exactly 1..N and `finished` last; events lost",
            "-",
            f"{check['complete']} / {readers_expected} complete; {check['lost_events']} events lost"
            + (f"; first problem: {check['first_problem']}" if check["first_problem"] else ""),
            "-",
            "0 lost events",
            verdict(check["complete"] == readers_expected and check["lost_events"] == 0),
        )
    )
    stalled = r["stalled"]
    rows.append(
        (
            f"stalled clients (SO_RCVBUF 4096, replay of the teacher's finished run, "
            f"PLAYGROUND_SSE_SEND_TIMEOUT_S={SEND_TIMEOUT_S:g}): SSE gauge after the readers ended; "
            "sockets closed by the server / complete / still open",
            "-",
            f"gauge {r['gauge_end']:g} ({r['gauge_wait']:.0f} s after the load; 1 s after they connected: "
            f"{r['gauge_stalled']:g}); {stalled['dropped']} / {stalled['complete']} / {stalled['open']} "
            f"({stalled['bytes'] / 1e6:.1f} MB read back at the end)",
            "-",
            "gauge back to 0",
            verdict(r["gauge_end"] == 0),
        )
    )
    rows.append(
        (
            "web process RSS (VmRSS every 100 ms; web process only): idle median / peak under load MB; "
            "kernel VmHWM at the end",
            f"{r['idle_rss']:.0f}",
            f"{r['load_rss_peak']:.0f} (VmHWM {r['hwm']:.0f}, at the end {r['rss_end']:.0f})",
            ratio(r["load_rss_peak"], r["idle_rss"]),
            f"<= {args.rss_bound_mb:g} MB",
            verdict(r["hwm"] <= args.rss_bound_mb),
        )
    )
    if r["loop"] is not None:
        idle_loop = loop_summary(r["loop"], *r["idle_window"])
        load_loop = loop_summary(r["loop"], r["load_start"], r["load_end"])
        rows.append(
            (
                "web process event loop (a 5 ms ticker inside it): max lag ms; stalls over 50 ms: count, "
                "seconds in all; GC pauses over 5 ms: count (full collections: wall and CPU seconds, "
                "largest oldest generation after one), max ms"
                f"; objects the GC tracks at the end: {r['loop']['gc_objects']:,}",
                loop_cell(idle_loop),
                loop_cell(load_loop),
                "-",
                "(information)",
                "-",
            )
        )
    rows.append(
        (
            "web process main thread (its event loop), share of wall time: on a CPU / ready to run but "
            "waiting for a CPU held by other threads or processes (kernel schedstat)",
            f"{r['idle_thread'][0]:.0%} / {r['idle_thread'][1]:.0%}",
            f"{r['load_thread'][0]:.0%} / {r['load_thread'][1]:.0%}",
            "-",
            "(information)",
            "-",
        )
    )
    lag = quantiles([lag for _, lag in load["lag"]])
    rows.append(
        (
            "client processes: event-loop lag p50 / p99 ms (part of each client-side figure); CPU s",
            "-",
            f"{ms(lag[0])} / {ms(lag[2])}; {load['cpu']:.1f} s"
            + (f"; crashed: {load['crashes']}" if load["crashes"] else ""),
            "-",
            "(information)",
            "-",
        )
    )
    out = [
        "`" + " ".join(["python bench/load.py", *args.argv]) + "`",
        "",
        environment() + f"; took {elapsed:.0f} s",
        "",
        f"{plan.visitors} visitors ({check['identities']} distinct `{COOKIE}` cookies) over {plan.ramp:g} s, "
        f"{plan.viewers} extra viewers, {plan.stalled} stalled; {r['workers']} worker(s), server defaults "
        f"otherwise{experiments(args)}; {check['events']} events in the visitors' runs; the load phase took "
        f"{r['load_seconds']:.1f} s, the web process used {r['server_cpu']:.0%} of a core; other processes "
        f"on this machine kept {r['other']:.2f} cores busy on average.",
        "",
        "| measure | idle baseline | under load | load / idle (p99) | target | verdict |",
        "|---|---|---|---|---|---|",
    ]
    out += [f"| {' | '.join(row)} |" for row in rows]
    out += ["", "Timeline of the load phase (t: seconds from the first visitor's arrival):", ""]
    out += timeline(r)
    out += [""] + stall_sites(r)
    return "\n".join(out)


def experiments(args) -> str:
    said = []
    if args.server_nice:
        said.append(f"web process at nice {args.server_nice} (--server-nice)")
    if args.pristine:
        said.append("no worker stamps, no LoopWatch (--pristine)")
    return "".join(f", {x}" for x in said)


def timeline(r: dict) -> list[str]:
    """The load phase in bins: queue depth, /healthz, pages and POSTs (by start), step deliveries (by
    arrival), CPU of the web process, of the workers and of the whole machine, and RSS."""
    start, end = r["load_start"], r["load_end"]
    width = max(5, math.ceil((end - start) / 20 / 5) * 5)
    visits, steps = r["load"]["visits"], r["check"]["step_latency"]
    lines = [
        "| t s | queued (max) | /healthz p50 / p99 / max ms | visitors: page GET / POST median ms "
        "| step deliveries: n, p99 ms | web CPU | web loop thread waiting for a CPU | workers CPU "
        "| machine busy (cores) | RSS MB (max) | web loop: max lag ms, stalled s | clients: max lag ms |",
        "|---|---:|---|---|---|---:|---:|---:|---:|---:|---|---:|",
    ]
    for low in range(0, max(1, math.ceil(end - start)), width):
        lo, hi = start + low, start + low + width
        probes = [p for p in r["load_probes"] if lo <= p[0] < hi]
        health = [p[1] if p[2] == 200 else math.inf for p in probes]
        worst = max(health, default=math.nan)
        queued = max((p[3] for p in probes), default=-1)
        mine = [v for v in visits if lo <= v["at"] < hi]
        pages = [v["page_s"] for v in mine if v["page_s"] == v["page_s"]]
        posts = [v["post_s"] for v in mine if v["post_s"] == v["post_s"]]
        arrived = [lag for at, lag in steps if lo <= at < hi]
        samples = [x for x in r["samples"] if lo <= x[0] <= hi]
        if len(samples) >= 2:
            wall = samples[-1][0] - samples[0][0]
            web, workers, machine, waited = ((samples[-1][i] - samples[0][i]) / wall for i in (2, 3, 4, 6))
            cpu = f"{web:.0%} | {waited:.0%} | {workers:.0%} | {machine:.2f}"
        else:
            cpu = "- | - | - | -"
        rss = max((x[1] for x in samples), default=0) / 1024
        if r["loop"] is not None:
            here = loop_summary(r["loop"], lo, hi)
            loop = f"{ms(here['max'])}, {here['stalled']:.1f}"
        else:
            loop = "-"
        client_lag = max((lag for at, lag in r["load"]["lag"] if lo <= at < hi), default=math.nan)
        lines.append(
            f"| {low}-{low + width} | {queued if queued >= 0 else '-'} "
            f"| {ms(quantile(health, 0.5))} / {ms(quantile(health, 0.99))} / {ms(worst)} "
            f"| {len(mine)}: {ms(median(pages))} / {ms(median(posts))} "
            f"| {len(arrived)}, {ms(quantile(arrived, 0.99))} | {cpu} | {rss:.0f} | {loop} "
            f"| {ms(client_lag)} |"
        )
    return lines


def loop_summary(loop: dict, lo: float, hi: float) -> dict:
    lags = [lag for at, lag in loop["lags"] if lo <= at < hi]
    stalls = [lag for lag in lags if lag > STALL]
    pauses = [p[1] for p in loop["gc"] if lo <= p[0] < hi]
    full = [p for p in loop["gc"] if lo <= p[0] < hi and p[2] == 2]
    sites: dict[str, int] = {}
    for stack, times in loop["stacks"].items():
        count = sum(lo <= at < hi for at in times)
        if count:
            sites[stack] = count
    return {
        "max": max(lags, default=0.0),
        "stalls": len(stalls),
        "stalled": sum(stalls),
        "gc": len(pauses),
        "gc_max": max(pauses, default=0.0),
        "gc_full": len(full),
        "gc_full_s": sum(p[1] for p in full),
        "gc_full_cpu": sum(p[3] for p in full),
        "gc_survivors": max((p[4] for p in full), default=0),
        "sites": sorted(sites.items(), key=lambda item: -item[1]),
    }


def loop_cell(summary: dict) -> str:
    return (
        f"{ms(summary['max'])}; {summary['stalls']}, {summary['stalled']:.1f} s; "
        f"{summary['gc']} ({summary['gc_full']} full: {summary['gc_full_s']:.1f} s, "
        f"{summary['gc_full_cpu']:.1f} s of CPU, up to {summary['gc_survivors']:,} objects), "
        f"{ms(summary['gc_max'])}"
    )


def stall_sites(r: dict, top: int = 6) -> list[str]:
    """Where the loop thread was when the ticker was over 50 ms late (sampled every 20 ms)."""
    if r["loop"] is None:
        return []
    sites = loop_summary(r["loop"], r["load_start"], r["load_end"])["sites"]
    if not sites:
        return ["No stall of the web process's event loop over 50 ms was sampled during the load."]
    total = sum(count for _, count in sites)
    lines = [
        f"Where the web process's event loop was while stalled over {STALL * 1000:.0f} ms during the load "
        f"(its thread's stack, innermost first, sampled every 20 ms; {total} samples):",
        "",
    ]
    for stack, count in sites[:top]:
        lines.append(f"- {count} ({count / total:.0%}): `{stack}`")
    return lines


def median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


SERVER_PIDS: list[int] = []  # the server's process group, for last_resort()


def last_resort() -> None:
    log("past the deadline: killing the server and exiting")
    for pid in SERVER_PIDS:
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)
    os._exit(3)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="20 visitors, 30 viewers, 4 stalled (a smoke run)"
    )
    parser.add_argument("--visitors", type=int, help="distinct identities, each posting one run (200)")
    parser.add_argument("--viewers", type=int, help="extra readers of the visitors' live runs (300)")
    parser.add_argument("--stalled", type=int, help="clients that never read (20)")
    parser.add_argument("--ramp", type=float, help="seconds over which the visitors arrive (10)")
    parser.add_argument("--workers", type=int, default=0, help="PLAYGROUND_WORKERS (0: the server's default)")
    parser.add_argument("--client-procs", type=int, help="client processes for visitors and viewers (2)")
    parser.add_argument("--deadline", type=float, default=600, help="hard limit on the whole run, seconds")
    parser.add_argument(
        "--rss-bound-mb",
        type=float,
        default=512,
        help="the web process's peak RSS target: idle (~90) + PLAYGROUND_EVENT_MEMORY_MB (256) + connections",
    )
    parser.add_argument(
        "--server-nice",
        type=int,
        default=0,
        help="experiment: renice the web process (not its workers) once started, e.g. -10 (root) to give "
        "it the machine back from other processes",
    )
    parser.add_argument("--dump", help="also write the raw measurements to this file (JSON)")
    parser.add_argument(
        "--pristine", action="store_true", help="the server as `uvicorn app.main:app`, no worker stamps"
    )
    args = parser.parse_args()
    args.argv = sys.argv[1:]
    plan = QUICK if args.quick else FULL
    overrides = {
        "visitors": args.visitors,
        "viewers": args.viewers,
        "stalled": args.stalled,
        "ramp": args.ramp,
        "client_procs": args.client_procs,
    }
    plan = replace(plan, **{k: v for k, v in overrides.items() if v is not None})
    plan = replace(
        plan,
        visitors=min(max(plan.visitors, 1), 2000),
        viewers=min(max(plan.viewers, 0), 5000),
        stalled=min(max(plan.stalled, 0), 500),
        ramp=min(max(plan.ramp, 0.0), 120.0),
        client_procs=min(max(plan.client_procs, 1), 8),
    )
    deadline_s = min(max(args.deadline, 120.0), 3600.0)
    raise_open_files_limit(16384)

    def on_term(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    started = time.monotonic()
    # a last resort if something hangs past the deadline: kill the server's process group, then exit
    watchdog = threading.Timer(deadline_s + 60, last_resort)
    watchdog.daemon = True
    watchdog.start()
    results = bench(
        plan,
        args.pristine,
        args.workers,
        started + deadline_s,
        min(max(args.server_nice, -20), 19),
    )
    watchdog.cancel()
    print(report(results, args, time.monotonic() - started))
    if args.dump:
        raw = {k: v for k, v in results.items() if k != "plan"} | {"plan": vars(plan)}
        Path(args.dump).write_text(json.dumps(raw, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
