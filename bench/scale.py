"""Runs finished per minute with 1, 2 and 4 Celery workers against the embedded pool, and SSE latency
through Redis against the embedded path, measured in the same run on 127.0.0.1.

    python bench/scale.py [--quick] [--runs N] [--batches R] [--worker-nice N]

Everything runs on this machine over loopback and is stopped at the end (also on Ctrl-C or SIGTERM):
a redis-server (Debian's, persistence off), one broker web replica (`uvicorn app.main:app` with
PLAYGROUND_BROKER_URL), Celery workers, and an embedded server (`uvicorn app.main:app` without a
broker: the local pool). Both backends stay up side by side, so their measurements alternate (ABBA)
and drift on this shared machine hits both alike. Every loop is bounded in count and in time.

Throughput: per phase (1, 2, 4 workers, one torch thread each) a fixed batch of N identical small runs
(MLP 512x2 on digits, 3 epochs, about 0.5 s of training alone) is POSTed back to back; the time from the
first POST to the last run's `finished_at` in the run store, as runs per minute.

Latency: one SSE viewer on a run that streams step events for several seconds (one worker, idle
otherwise). Embedded: as bench/stream.py's a0, the pool's worker pipe is wrapped so that each event
carries `bench_t` (time.monotonic() when the worker sends it) and the latency is arrival minus stamp.
Broker: arrival (time.time()) minus the milliseconds in the event's Redis stream id (Redis's clock at
XADD, the same clock); and, for a like-for-like check, the Celery worker's `publish` wrapped the same
way, arrival minus `bench_t`. Nothing in app/ changes.

Only ratios make the comparison; absolute times depend on the machine.
"""

import argparse
import contextlib
import json
import math
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from app.runs.broker import keys  # noqa: E402
from bench.stream import (  # noqa: E402
    FINISHED,
    NOISY_CORES,
    STAMP,
    TARGET_A_P95,
    OtherLoad,
    environment,
    launched,
    log,
    ms,
    noisy,
    own_seconds,
    quantile,
    verdict,
)
from tests.broker.conftest import Worker, redis_server  # noqa: E402
from tests.server import Server, read_sse, running_server  # noqa: E402

MLP = {"model": "mlp", "dataset": "digits", "hidden_units": 512, "hidden_layers": 2, "batch_size": 16}
BATCH_SPEC = MLP | {"epochs": 3}  # ~0.5 s of training on one thread here, 78 events
LATENCY_SPEC = MLP | {"step_events_per_epoch": 20}  # ~0.17 s an epoch: ~120 step events/s
THREADS = 1  # torch threads per worker, both backends
EMBEDDED_NICE = 10  # what app/runs/worker.py does to the pool's workers
POLL_S = 0.25  # how often a batch asks whether it is done (the end time comes from the store)


@dataclass(frozen=True)
class Plan:
    runs: int  # runs per batch
    batches: int  # timed batches per backend and worker count
    workers: tuple[int, ...]
    latency_runs: int  # per path
    latency_epochs: int
    quick: bool
    worker_nice: int = 0


FULL = Plan(24, 2, (1, 2, 4), 2, 30, False)
QUICK = Plan(8, 1, (1, 2, 4), 1, 12, True)


# ---------------------------------------------------------------------------------------------------
# The two deployments


def stamped_celery_worker(name: str, nice: int) -> None:
    """`d2l-playground worker --name NAME`, with the worker's publish() adding `bench_t` (the monotonic
    time just before its XADD) to each event: the broker twin of bench/stream.py's stamped pipe. `nice`
    is added on top of the 10 that both backends' workers take themselves."""
    import app.runs.broker.worker as broker_worker
    from app.settings import get_settings

    if nice:
        os.nice(nice)

    original = broker_worker.publish

    def publish(client, run_id: str, event: dict, maxlen: int) -> str:
        return original(client, run_id, event | {STAMP: time.monotonic()}, maxlen)

    broker_worker.publish = publish
    settings = get_settings()
    broker_worker.run_worker(settings, settings.queues_to_consume(), name)


class StampedWorker(Worker):
    """tests.broker.conftest.Worker (same readiness check and stop), started as stamped_celery_worker."""

    def __init__(self, name: str, env: dict, log_path: Path, nice: int):
        self.name, self.log_path = name, log_path
        self.log_file = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        code = f"import bench.scale as bench; bench.stamped_celery_worker({name + '@bench'!r}, {nice:d})"
        self.process = subprocess.Popen(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env=env,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


@dataclass
class Backend:
    """One web server to POST to, the SQLite file its runs end up in, and (broker) its workers."""

    name: str
    server: Server
    database: Path
    workers: list[Worker] = field(default_factory=list)
    redis_client: redis.Redis | None = None

    def check_alive(self) -> None:
        if self.server.process.poll() is not None:
            raise RuntimeError(f"the {self.name} server exited:\n{self.server.log()[-2000:]}")
        for worker in self.workers:
            if worker.process.poll() is not None:
                raise RuntimeError(f"{worker.name} exited:\n{worker.log()[-2000:]}")


class BrokerCluster:
    """redis-server + one web replica + Celery workers added on demand; the ExitStack stops them all."""

    def __init__(self, root: Path, stack: contextlib.ExitStack, nice: int):
        self.root, self.stack, self.nice = root, stack, nice
        url = stack.enter_context(redis_server(root))
        database = root / "broker-runs.sqlite3"
        settings = {
            "broker_url": url,
            "database_url": f"sqlite:///{database}",
            "worker_threads": str(THREADS),
        }
        self.env = os.environ | {f"PLAYGROUND_{key.upper()}": value for key, value in settings.items()}
        self.env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        self.env["PLAYGROUND_FASHION_MNIST_MIRRORS"] = '["http://127.0.0.1:9/"]'
        web_dir = root / "broker-web"
        web_dir.mkdir()
        server = stack.enter_context(running_server(web_dir, **settings))
        self.backend = Backend("broker", server, database, redis_client=redis.Redis.from_url(url))

    def start_workers(self, count: int) -> list[Worker]:
        """Start workers until there are `count` (they load torch meanwhile; wait with wait_ready)."""
        started = []
        while len(self.backend.workers) < count:
            number = len(self.backend.workers) + 1
            data_dir = self.root / f"worker{number}"
            data_dir.mkdir()
            env = self.env | {"PLAYGROUND_DATA_DIR": str(data_dir)}
            worker = StampedWorker(f"w{number}", env, data_dir / "worker.log", self.nice)
            self.stack.callback(worker.stop)
            self.backend.workers.append(worker)
            started.append(worker)
        return started


@contextlib.contextmanager
def embedded(root: Path, workers: int):
    """`uvicorn app.main:app` with the local pool of `workers` processes, their pipe stamped (as a0)."""
    data_dir = root / f"embedded-{workers}"
    data_dir.mkdir()
    database = data_dir / "runs.sqlite3"
    with launched(
        "serve_stamped_real",
        data_dir,
        workers=workers,
        worker_threads=THREADS,
        database_url=f"sqlite:///{database}",
    ) as server:
        yield Backend("embedded", server, database)


# ---------------------------------------------------------------------------------------------------
# Throughput


@dataclass
class Batch:
    backend: str
    workers: int
    runs: int
    makespan: float = math.nan  # first POST -> last finished_at, seconds
    done: int = 0
    post_ms: float = math.nan  # median POST /api/runs
    other: float = math.nan  # cores kept busy by processes outside the benchmark
    cpu_per_run: float = math.nan  # CPU seconds of every process of the bench (both backends), per run
    epoch_s: float = math.nan  # mean over the runs of the sum of their epochs' `seconds`
    trainers: int = 0  # broker: distinct worker processes that claimed the batch's runs
    error: str | None = None

    @property
    def per_minute(self) -> float:
        return self.runs / self.makespan * 60 if self.done == self.runs else math.nan


def wait_idle(backend: Backend, timeout: float = 60) -> None:
    """Nothing queued or running on the backend (and, embedded, every pool worker ready)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        backend.check_alive()
        health = backend.server.client.get("/healthz").json()
        ready = health.get("workers_ready", health.get("workers", 0)) >= health.get("workers", 0)
        if ready and health.get("running") == 0 and health.get("queued") == 0:
            return
        time.sleep(0.05)
    raise TimeoutError(f"the {backend.name} backend did not become idle")


def stored(database: Path, run_ids: list[str]) -> dict[str, tuple[datetime, float]]:
    """Per finished run, read from the run store: when it was recorded as finished (UTC; SQLite keeps
    the datetimes without offset), and the sum of its epochs' `seconds` (training, event sends included)."""
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10)) as db:
        marks = ",".join("?" * len(run_ids))
        query = f"SELECT id, finished_at, events FROM runs WHERE id IN ({marks})"
        rows = db.execute(query, run_ids).fetchall()
    out = {}
    for run_id, value, events in rows:
        if value:
            moment = datetime.fromisoformat(value)
            epochs = json.loads(zlib.decompress(events)) if events else []
            seconds = sum(e["seconds"] for e in epochs if e["type"] == "epoch")
            out[run_id] = (moment if moment.tzinfo else moment.replace(tzinfo=UTC), seconds)
    return out


def run_batch(backend: Backend, workers: int, runs: int, seed0: int, timed: bool = True) -> Batch:
    """POST `runs` runs back to back, wait until all finished (bounded), measure first POST -> last end."""
    client = backend.server.client
    wait_idle(backend)
    batch = Batch(backend.name, workers, runs)
    other = OtherLoad().start()
    cpu = own_seconds()
    start = datetime.now(UTC)
    posts, run_ids = [], []
    for i in range(runs):
        sent = time.monotonic()
        response = client.post("/api/runs", json=BATCH_SPEC | {"seed": seed0 + i})
        posts.append(time.monotonic() - sent)
        run_ids.append(response.raise_for_status().json()["id"])
    batch.post_ms = statistics.median(posts) * 1000
    deadline = time.monotonic() + 60 + runs * 3.0 / workers  # ~6x the expected time, at least a minute
    left = set(run_ids)
    statuses: dict[str, str] = {}
    while left and time.monotonic() < deadline:
        time.sleep(POLL_S)
        backend.check_alive()
        rows = client.get("/api/runs", params={"limit": min(500, runs + 100)}).json()
        statuses |= {row["id"]: row["status"] for row in rows if row["id"] in left}
        left = {run_id for run_id in left if statuses.get(run_id) not in FINISHED}
    batch.other = other.stop()
    batch.cpu_per_run = (own_seconds() - cpu) / runs
    if left:
        batch.error = f"{len(left)} runs unfinished after the deadline"
        for run_id in left:
            client.delete(f"/api/runs/{run_id}")
        wait_idle(backend)
    batch.done = sum(statuses.get(run_id) == "done" for run_id in run_ids)
    if batch.done < runs and not batch.error:
        others = sorted({statuses.get(r) for r in run_ids} - {"done"}, key=str)
        batch.error = f"{runs - batch.done} runs not done ({', '.join(map(str, others))})"
    ends = stored(backend.database, run_ids)
    if ends and len(ends) == len(run_ids):
        batch.makespan = (max(end for end, _ in ends.values()) - start).total_seconds()
        batch.epoch_s = statistics.fmean(seconds for _, seconds in ends.values())
    if backend.redis_client is not None:
        batch.trainers = len({backend.redis_client.get(keys.owner(run_id)) for run_id in run_ids} - {None})
    if timed:
        log(
            f"  {backend.name} x{workers}: {batch.done}/{runs} done in {batch.makespan:.2f} s "
            f"({batch.per_minute:.0f} runs/min), other load {batch.other:.2f}"
            + (f", {batch.error}" if batch.error else "")
        )
    return batch


def warm_up(backend: Backend, workers: int) -> None:
    """Two runs per worker, untimed: every worker has loaded the data set and run the model once."""
    batch = run_batch(backend, workers, 2 * workers, 10_000, timed=False)
    if batch.error:
        raise RuntimeError(f"warm-up on {backend.name} x{workers} failed: {batch.error}")


# ---------------------------------------------------------------------------------------------------
# Latency


def view(base: str, run_id: str, record: dict, deadline: float) -> None:
    """One SSE viewer (in a thread): every message with an id, with its arrival on both clocks."""
    try:
        with (
            httpx.Client(base_url=base, timeout=30) as client,
            client.stream("GET", f"/api/runs/{run_id}/events") as response,
        ):
            record["joined_mono"], record["joined_wall"] = time.monotonic(), time.time()
            for message in read_sse(response):
                mono, wall = time.monotonic(), time.time()
                if "id" in message:
                    event = json.loads(message["data"])
                    record["events"].append((message["id"], mono, wall, event))
                    if event["type"] == "finished" or mono > deadline:
                        break
    except httpx.HTTPError as error:
        record["error"] = repr(error)


def latency_run(backend: Backend, epochs: int) -> dict:
    """One run streaming step events with one viewer attached from just after the POST."""
    wait_idle(backend)
    client = backend.server.client
    run_id = client.post("/api/runs", json=LATENCY_SPEC | {"epochs": epochs}).raise_for_status().json()["id"]
    record: dict = {"events": [], "joined_mono": math.nan, "joined_wall": math.nan, "error": None}
    limit = 60 + epochs * 2.0
    thread = threading.Thread(
        target=view, args=(backend.server.base, run_id, record, time.monotonic() + limit), daemon=True
    )
    thread.start()
    thread.join(timeout=limit + 35)
    if thread.is_alive() or record["error"]:
        client.delete(f"/api/runs/{run_id}")
        record["error"] = record["error"] or "viewer still open at the deadline"
        thread.join(timeout=35)
    return record


@dataclass
class Latency:
    stamp: list[float] = field(default_factory=list)  # worker send -> client arrival, monotonic
    stream_id: list[float] = field(default_factory=list)  # Redis XADD ms -> client arrival, wall clock
    out_of_order: int = 0
    incomplete: int = 0  # viewers without a `finished` event or with an error


def add_latencies(total: Latency, record: dict) -> None:
    ids, finished = [], False
    for event_id, mono, wall, event in record["events"]:
        parts = [int(x) for x in event_id.split("-")]
        ids.append(tuple(parts))
        finished |= event["type"] == "finished"
        if event["type"] != "step":
            continue
        if STAMP in event and event[STAMP] >= record["joined_mono"]:
            total.stamp.append(mono - event[STAMP])
        if len(parts) == 2 and parts[0] / 1000 >= record["joined_wall"]:
            total.stream_id.append(wall - parts[0] / 1000)
    total.out_of_order += sum(b <= a for a, b in zip(ids, ids[1:], strict=False))
    total.incomplete += bool(record["error"] or not finished)


# ---------------------------------------------------------------------------------------------------
# The report


def p(values: list[float], q: float) -> float:
    return quantile(values, q)


def ratio(a: float, b: float) -> str:
    return "n/a" if not (a == a and b == b and b > 0) else f"{a / b:.2f}x"


def rate_of(batches: list[Batch]) -> float:
    rates = [b.per_minute for b in batches]
    return statistics.median(rates) if rates and all(r == r for r in rates) else math.nan


def report(results: dict, plan: Plan, elapsed: float) -> str:
    emb, bro = results["latency"]["embedded"], results["latency"]["broker"]
    out = [
        f"## bench/scale.py{' --quick' if plan.quick else ''}",
        "",
        environment() + f"; redis-server {results['redis_version']}; took {elapsed:.0f} s",
        "",
        f"Other processes on this machine kept {results['other']:.2f} cores busy on average during the run; "
        f"* marks a figure measured while they kept more than {NOISY_CORES:g} cores busy.",
        "",
        "### Latency: step event -> one SSE viewer (1 worker, nothing else training)",
        "",
        "| path | measured | n | p50 ms | p95 ms | p99 ms | max ms | broker / embedded p50, p95 |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    rows = [
        ("embedded", "worker stamp (monotonic) -> arrival, as stream.py a0", emb.stamp, emb.stamp),
        ("broker", "Redis stream id ms (XADD) -> arrival (wall clock)", bro.stream_id, emb.stamp),
        ("broker", "worker stamp (monotonic, before XADD) -> arrival", bro.stamp, emb.stamp),
    ]
    for path, how, values, base in rows:
        compare = (
            "-"
            if values is base
            else f"{ratio(p(values, 0.5), p(base, 0.5))}, {ratio(p(values, 0.95), p(base, 0.95))}"
        )
        out.append(
            f"| {path} | {how} | {len(values)} | {ms(p(values, 0.5))} | {ms(p(values, 0.95))} "
            f"| {ms(p(values, 0.99))} | {ms(max(values, default=math.nan))} | {compare} |"
        )
    out += [
        "",
        f"Target (issue, embedded path): p95 <= {TARGET_A_P95 * 1000:.0f} ms: "
        f"{verdict(None if not emb.stamp else p(emb.stamp, 0.95) <= TARGET_A_P95)}; "
        f"the broker path's p95 against the same bound (context only): "
        f"{verdict(None if not bro.stream_id else p(bro.stream_id, 0.95) <= TARGET_A_P95)}. "
        f"Viewers incomplete: embedded {emb.incomplete}, broker {bro.incomplete}; "
        f"ids out of order: {emb.out_of_order + bro.out_of_order}.",
        "",
        f"### Throughput: {plan.runs} runs of {json.dumps(BATCH_SPEC)} per batch, "
        f"{plan.batches} batch(es) per row, {THREADS} torch thread per worker, {os.cpu_count()} cores; "
        f"workers of both backends at nice {EMBEDDED_NICE}"
        + (f" (Celery workers +{plan.worker_nice})" if plan.worker_nice else ""),
        "",
        "| backend | workers | makespan s (each batch) | runs/min | vs embedded, same workers "
        "| vs 1 worker, same backend | s per run per worker | of which epochs s | rest s "
        "| CPU s per run | POST ms (median) | workers used | other load |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    batches: dict[tuple[str, int], list[Batch]] = results["batches"]
    for backend in ("embedded", "broker"):
        for workers in plan.workers:
            got = batches.get((backend, workers), [])
            if not got:
                continue
            rate = rate_of(got)
            same = rate_of(batches.get(("embedded", workers), []))
            one = rate_of(batches.get((backend, 1), []))
            spans = " / ".join(f"{b.makespan:.2f}" for b in got)
            errors = "; ".join(b.error for b in got if b.error)
            used = "-" if backend == "embedded" else "/".join(str(b.trainers) for b in got)
            load = max(b.other for b in got)
            per_run = workers * 60 / rate
            epochs = statistics.median(b.epoch_s for b in got)
            out.append(
                f"| {backend} | {workers} | {spans}{' (' + errors + ')' if errors else ''} "
                f"| {rate:.1f}{noisy(load)} "
                f"| {'-' if backend == 'embedded' else ratio(rate, same)} "
                f"| {'-' if workers == 1 else ratio(rate, one)} "
                f"| {per_run:.3f} | {epochs:.3f} | {per_run - epochs:.3f} "
                f"| {statistics.median(b.cpu_per_run for b in got):.3f} "
                f"| {statistics.median(b.post_ms for b in got):.1f} | {used} | {load:.2f} |"
            )
    out += ["", *NOTES.format(cores=os.cpu_count(), poll=POLL_S).splitlines()]
    return "\n".join(out)


NOTES = """\
Notes:
- Runs/min: the batch's runs over the time from just before the first POST to the latest
  `finished_at` the run store holds for them (written by the web process, embedded, or by the Celery
  worker, broker), median over batches. Batches alternate embedded / broker (ABBA) with both backends up,
  after two untimed runs per worker. The bench polls GET /api/runs every {poll:g} s only to know when
  to stop.
- Workers: one torch thread each. With 4 workers on {cores} cores the workers are oversubscribed (and
  share the cores with the web process, redis-server and this client): 4 workers have no more compute
  than 2; what they gain over 2 comes from filling the gaps between one worker's runs.
- Priority: the workers of both backends lower themselves to nice 10 (app/runs/worker.py,
  app/runs/broker/worker.py), so only the backend differs and the web process keeps its share of the
  cores (--worker-nice adds more to the Celery workers only).
- "s per run per worker": workers x makespan / runs; "of which epochs": the mean sum of a run's
  epoch `seconds` (the trainer's clock: training and evaluation, plus the sends of the step events it
  yields meanwhile); "rest": the difference, what a run costs outside its epochs (queueing and dispatch,
  loading the data, the first evaluation, the store, the tail of a batch whose last runs leave workers idle).
- "CPU s per run": CPU time of every process the bench started (servers, workers, redis-server, the
  idle other backend, this client) during the batch, over its runs: what a run costs the machine.
- "workers used": how many distinct Celery worker processes claimed a batch's runs (keys.owner).
- Latency, embedded: the pool's worker pipe is wrapped to stamp each event (bench/stream.py's
  serve_stamped_real). Broker, stream id: the id's milliseconds are Redis's wall clock when it
  appended the event, truncated to the millisecond, so this figure reads 0-1 ms high (0.5 on average).
  Broker, worker stamp: the Celery worker's publish() is wrapped the same way as the embedded pipe.
  Events sent before the viewer joined (replayed to it) are left out; only `step` events count.
"""


# ---------------------------------------------------------------------------------------------------


def measure(plan: Plan, root: Path, stack: contextlib.ExitStack) -> dict:
    results: dict = {"batches": {}, "latency": {"embedded": Latency(), "broker": Latency()}}
    log("redis-server, broker web replica, first Celery worker")
    cluster = BrokerCluster(root, stack, plan.worker_nice)
    broker = cluster.backend
    results["redis_version"] = broker.redis_client.info("server").get("redis_version", "?")
    seed = 0
    for workers in plan.workers:
        new_workers = cluster.start_workers(workers)
        log(f"{workers} worker(s) each: embedded pool of {workers}, {len(broker.workers)} Celery worker(s)")
        with embedded(root, workers) as local:
            local.server.wait_ready_workers(workers, timeout=120)
            for worker in new_workers:
                worker.wait_ready(timeout=120)
            warm_up(local, workers)
            warm_up(broker, workers)
            if workers == 1:
                for rep in range(plan.latency_runs):
                    for backend in (local, broker) if rep % 2 == 0 else (broker, local):
                        record = latency_run(backend, plan.latency_epochs)
                        add_latencies(results["latency"][backend.name], record)
                for name, lat in results["latency"].items():
                    values = lat.stamp if name == "embedded" else lat.stream_id
                    log(f"  latency {name}: p50 {ms(p(values, 0.5))} ms, p95 {ms(p(values, 0.95))} ms")
            for rep in range(plan.batches):
                for backend in (local, broker) if rep % 2 == 0 else (broker, local):
                    batch = run_batch(backend, workers, plan.runs, seed)
                    seed += plan.runs
                    results["batches"].setdefault((backend.name, workers), []).append(batch)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer, shorter runs: a smoke test")
    parser.add_argument("--runs", type=int, help="runs per batch (default 24, --quick 8)")
    parser.add_argument("--batches", type=int, help="timed batches per backend and worker count (default 2)")
    parser.add_argument(
        "--worker-nice",
        type=int,
        default=0,
        help="extra niceness for the Celery workers, on top of the 10 they take themselves (default 0)",
    )
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    plan = Plan(**(vars(plan) | {"worker_nice": min(max(args.worker_nice, 0), 19)}))
    if args.runs:
        plan = Plan(**(vars(plan) | {"runs": min(max(args.runs, 1), 200)}))
    if args.batches:
        plan = Plan(**(vars(plan) | {"batches": min(max(args.batches, 1), 10)}))

    def stop(signum, _frame):
        raise SystemExit(128 + signum)  # unwinds the ExitStack: every process started here is stopped

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)
    started = time.monotonic()
    overall = OtherLoad().start()
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp, contextlib.ExitStack() as stack:
        results = measure(plan, Path(tmp), stack)
        log("stopping workers, servers and redis-server")
    results["other"] = overall.stop()
    print(report(results, plan, time.monotonic() - started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
