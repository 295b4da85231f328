"""A class on one server (issue 14): students join, all train at once, the board follows everything.

    python bench/classroom.py [--students 60] [--epochs 10] [--quick] [--press-window 1] [--train-on-join]

One real server (`uvicorn app.main:app` through tests.server.running_server, as deployed on this 2-core
machine: one training worker with two torch threads; server defaults otherwise) with a fresh data dir
holding Fashion-MNIST-format files: links to the real ones when the settings' data dir has them, else
full-size synthetic ones (60,000 + 10,000 images, bench/train_speed.py's generator). So the softmax
preset's dataset `auto` resolves to Fashion-MNIST, which the bench checks on every accepted run's spec.

On 127.0.0.1, all at once:

  teacher   creates the class (preset softmax, only lr unlocked; lr and epochs with --epochs other than
            10) and reads the board's stream GET /api/classes/{code}/events with its cookie, from a process
            of its own (its arrival times do not wait for the students' event loop), until every accepted
            run's `finished` came through;
  students  --students distinct identities (one httpx client and signed cookie each) join at random
            moments within --join-window seconds (POST /api/classes/{code}/students); once all have
            joined, the teacher says "train" and each presses Train within --press-window seconds
            (--train-on-join: as soon as it joined instead): POST /api/classes/{code}/runs {"lr": ...},
            each its own learning rate (log-spaced 0.01-0.5, none diverges), then reads its run's stream
            to `finished` (raw HTTP/1.1, bench.stream.Viewer's de-chunking). A 429 is counted, not
            retried. After a 5xx the student asks GET /api/runs whether the server queued the run all the
            same and follows it (counted apart: such a run has no lane on the board, no row in the export).

Baseline, on the same server in the same run: one student of a second class trains the same run alone,
--alone times before the class (after a warm-up run that loads the data in the worker) and --alone times
after it; the median run alone (POST to `finished`) x N is the class one by one.

Reported: join p95 (request to response), the time from the first submission to the last `finished` on a
student's stream, the runs' endings, the board's delay (arrival - the event's `t`, the wall clock when the
event entered the class feed; and arrival on the board - arrival of the same event on the student's own
stream), lost events (every started/step/epoch/finished event of a student's stream must also come
through the board), the web process's RSS (VmRSS every 100 ms, VmHWM at the end), the class CSV export's
run rows; and, to say where the time went, the cohorts the pool formed (members end together; a cohort
starts at its members' first `started`), the CPU of the web process, the worker, the bench's clients,
the machine and other processes, a timeline, and the first tracebacks in the server's log.

Targets (issue 14, 2 cores): all runs done within 60 s of the first submission, board delay p95 <= 250 ms,
0 lost events. Every wait is bounded (--deadline, 285 s by default, over the whole run; a watchdog kills
the server and exits if something hangs past it).
"""

import argparse
import asyncio
import contextlib
import csv
import io
import json
import math
import multiprocessing
import os
import random
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere
sys.path.insert(0, str(ROOT / "bench"))

from bench.stream import (  # noqa: E402
    FINISHED,
    OtherLoad,
    Viewer,
    cpu_seconds,
    environment,
    log,
    machine_busy_seconds,
    ms,
    noisy,
    quantile,
    raise_open_files_limit,
    verdict,
)
from tests.server import running_server  # noqa: E402

TARGET_MAKESPAN_S = 60.0
TARGET_BOARD_P95_S = 0.250
BOOK_EPOCHS = 10
LOWEST_LR, HIGHEST_LR = 0.01, 0.5
LANE_EVENTS = ("started", "step", "epoch", "finished")  # what the board relays of each run
RSS_INTERVAL_S = 0.1
CPU_EVERY = 5  # CPU samples every 5th RSS sample (0.5 s)
COOKIE = "d2l_visitor"
SERVER_GROUPS: list[int] = []  # the server's process group, for last_resort()


# ---------------------------------------------------------------------------------------------------
# Event streams


def sse_fields(message: bytes) -> tuple[str | None, str | None, bytes | None]:
    """(id, event name, data) of one SSE message; None for a field it does not have."""
    event_id = name = data = None
    for line in message.split(b"\r\n"):
        if line.startswith(b"id: "):
            event_id = line[4:].decode()
        elif line.startswith(b"event: "):
            name = line[7:].decode()
        elif line.startswith(b"data: "):
            data = line[6:]
    return event_id, name, data


def event_key(name: str, data: dict) -> tuple[str, int]:
    """What names one run event in both streams: (type, step) for steps, (type, epoch) for epochs."""
    if name == "step":
        return name, data["step"]
    if name == "epoch":
        return name, data["epoch"]
    return name, 0


class MessageReader(Viewer):
    """An SSE connection (bench.stream.Viewer de-chunks it) that hands each whole message to `message`
    with its arrival on the wall clock, the clock of the board's `t`."""

    def parse(self, now: float) -> None:
        wall = time.time()
        body, start = self.body, 0
        while (end := body.find(b"\r\n\r\n", start)) >= 0:
            self.message(*sse_fields(bytes(body[start:end])), wall)
            start = end + 4
        del body[:start]

    def message(self, event_id: str | None, name: str | None, data: bytes | None, wall: float) -> None:
        raise NotImplementedError


class RunReader(MessageReader):
    """A student's own run stream: every id, the arrival of each started/step/epoch/finished event and
    each epoch's `seconds` (a cohort's members all report the cohort's epoch time: it tells the cohorts
    apart). The HTML fragments before some events carry no id and are skipped; snapshots are not decoded."""

    def __init__(self, request: bytes, run: str):
        super().__init__(request, run)
        self.event_ids: list[int] = []
        self.arrivals: dict[tuple[str, int], float] = {}
        self.epoch_seconds: dict[int, float] = {}
        self.status: str | None = None

    def message(self, event_id, name, data, wall) -> None:
        if event_id is None:
            return
        self.event_ids.append(int(event_id))
        if name not in LANE_EVENTS or data is None:
            return
        body = json.loads(data)
        self.arrivals[event_key(name, body)] = wall
        if name == "epoch":
            self.epoch_seconds[body["epoch"]] = body["seconds"]
        elif name == "finished":
            self.status = body["status"]
            self.finished = True
            self.finish()

    def last_epoch_at(self) -> float:
        return max((at for (name, _), at in self.arrivals.items() if name == "epoch"), default=math.nan)


class BoardReader(MessageReader):
    """The board's stream: lanes (lane -> run id), and per lane event (arrival, lane, key, t). It ends
    itself once `expected` lanes have finished (told later: refused runs get no lane)."""

    def __init__(self, request: bytes):
        super().__init__(request, "board")
        self.lanes: dict[int, str] = {}
        self.events: list[tuple[float, int, tuple[str, int], float]] = []
        self.joined_seen = 0
        self.finished_lanes: set[int] = set()
        self.expected: int | None = None

    def message(self, event_id, name, data, wall) -> None:
        if name is None or data is None:
            return
        body = json.loads(data)
        if name == "run":
            self.lanes[body["lane"]] = body["run_id"]
        elif name == "joined":
            self.joined_seen += 1
        elif name in LANE_EVENTS and "lane" in body:
            self.events.append((wall, body["lane"], event_key(name, body), body["t"]))
            if name == "finished":
                self.finished_lanes.add(body["lane"])
                self.check_complete()

    def check_complete(self) -> None:
        if self.expected is not None and len(self.finished_lanes) >= self.expected:
            self.finish()


def request_bytes(port: int, path: str, cookie: str) -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n"
        f"Cookie: {COOKIE}={cookie}\r\n\r\n"
    ).encode()


async def open_reader(reader: Viewer, port: int, until: float) -> None:
    """Connect `reader`; a failure is kept in the reader (its `error`)."""
    loop = asyncio.get_running_loop()
    try:
        await asyncio.wait_for(
            loop.create_connection(lambda: reader, "127.0.0.1", port), max(0.1, until - time.time())
        )
    except (OSError, TimeoutError) as error:
        reader.fail(f"could not connect: {error!r}")


async def read_until(reader: Viewer, until: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(reader.done), max(0.1, until - time.time()))
    if not reader.done.done():
        reader.fail("stream still open at the deadline")


async def loop_lag(samples: list[tuple[float, float]], halt: asyncio.Event) -> None:
    """How late a 10 ms sleep wakes up: this process's own delay, part of every arrival it stamps."""
    while not halt.is_set():
        start = time.time()
        await asyncio.sleep(0.01)
        samples.append((start, time.time() - start - 0.01))


# ---------------------------------------------------------------------------------------------------
# The board: a process of its own


async def follow_board(job: dict, connection) -> dict:
    """Read the board's stream; say when it is open; take `expect` and `stop` from the parent."""
    board = BoardReader(request_bytes(job["port"], job["path"], job["cookie"]))
    lags: list[tuple[float, float]] = []
    halt = asyncio.Event()
    lag_task = asyncio.create_task(loop_lag(lags, halt))
    await open_reader(board, job["port"], job["until"])
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(board.joined), max(0.1, job["until"] - time.time()))
    connection.send(("open", board.headers_at is not None, board.error))
    while not board.done.done() and time.time() < job["until"]:
        await asyncio.sleep(0.1)
        while connection.poll():
            kind, value = connection.recv()
            if kind == "expect":
                board.expected = value
                board.check_complete()
            elif kind == "stop":
                board.fail(value)
    if not board.done.done():
        board.fail("board stream still open at the deadline")
    stopped_at = time.time()
    halt.set()
    await lag_task
    return {
        "lanes": board.lanes,
        "events": board.events,
        "joined_seen": board.joined_seen,
        "finished_lanes": len(board.finished_lanes),
        "error": board.error if len(board.finished_lanes) < (board.expected or 0) else None,
        "lag": lags,
        "stopped_at": stopped_at,
    }


def board_main(job: dict, connection) -> None:
    try:
        connection.send(("result", asyncio.run(follow_board(job, connection))))
    except Exception as error:  # report, do not leave the parent waiting
        connection.send(("result", {"crash": repr(error)}))


class Board:
    """The teacher's board in a spawned process."""

    def __init__(self, port: int, code: str, cookie: str, until: float):
        context = multiprocessing.get_context("spawn")
        self.pipe, child = context.Pipe()
        job = {"port": port, "path": f"/api/classes/{code}/events", "cookie": cookie, "until": until}
        self.process = context.Process(target=board_main, args=(job, child), daemon=True, name="board")
        self.process.start()
        child.close()
        self.until = until

    def wait_open(self, timeout: float) -> tuple[bool, str | None]:
        if not self.pipe.poll(timeout):
            return False, "the board did not connect in time"
        kind, *rest = self.pipe.recv()
        if kind == "result":
            return False, rest[0].get("crash", "the board ended at once")
        return rest[0], rest[1]

    def expect(self, lanes: int) -> None:
        self.pipe.send(("expect", lanes))

    def result(self, grace: float) -> dict:
        """The board's records; told to stop when it has not ended `grace` seconds from now."""
        if not self.pipe.poll(grace):
            with contextlib.suppress(OSError):
                self.pipe.send(("stop", "stopped by the bench: not every run's `finished` came through"))
        got = self.pipe.recv()[1] if self.pipe.poll(15) else {"crash": "the board did not report"}
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=5)
        return got


# ---------------------------------------------------------------------------------------------------
# The server's process: RSS and CPU


def status_kb(pid: int, field_name: str) -> float:
    """A /proc/<pid>/status field in kB (VmRSS, VmHWM); nan when the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return float(line.split()[1])
    except OSError:
        pass
    return math.nan


def worker_pids(web_pid: int) -> list[int]:
    """The training workers: the web process's spawned children, multiprocessing's tracker excepted."""
    children = subprocess.run(["pgrep", "-P", str(web_pid)], capture_output=True, text=True).stdout.split()
    pids = []
    for pid in children:
        with contextlib.suppress(OSError):
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            if b"spawn_main" in cmdline and b"resource_tracker" not in cmdline:
                pids.append(int(pid))
    return pids


class Sampler(threading.Thread):
    """The web process's VmRSS every 100 ms; every 0.5 s the CPU seconds of the web process, of its
    workers and of the whole machine (wall clock times, as the board's)."""

    def __init__(self, web_pid: int):
        super().__init__(daemon=True, name="sampler")
        self.web_pid, self.workers = web_pid, worker_pids(web_pid)
        self.clients = [os.getpid()]  # this process (the students); the board's is added once started
        self.rss: list[tuple[float, float]] = []
        self.cpu: list[tuple[float, float, float, float, float]] = []
        self.halt = threading.Event()

    def run(self) -> None:
        tick = 0
        while not self.halt.wait(RSS_INTERVAL_S):
            now = time.time()
            self.rss.append((now, status_kb(self.web_pid, "VmRSS")))
            if tick % CPU_EVERY == 0:
                workers = sum(cpu_seconds(pid) for pid in self.workers)
                clients = sum(cpu_seconds(pid) for pid in list(self.clients))
                self.cpu.append((now, cpu_seconds(self.web_pid), workers, machine_busy_seconds(), clients))
            tick += 1

    def stop(self) -> float:
        """Stop sampling; the web process's VmHWM (peak RSS the kernel saw), kB."""
        self.halt.set()
        self.join(timeout=5)
        return status_kb(self.web_pid, "VmHWM")

    def rss_between(self, start: float, end: float) -> list[float]:
        return [kb for at, kb in self.rss if start <= at <= end and kb == kb]

    def cpu_share(self, start: float, end: float) -> tuple[float, float, float, float]:
        """Cores the web process, the workers, the machine and the bench's clients kept busy between
        start and end."""
        inside = [sample for sample in self.cpu if start <= sample[0] <= end]
        if len(inside) < 2:
            return math.nan, math.nan, math.nan, math.nan
        first, last = inside[0], inside[-1]
        wall = last[0] - first[0]
        return tuple((last[i] - first[i]) / wall for i in (1, 2, 3, 4))


# ---------------------------------------------------------------------------------------------------
# Students


@dataclass
class Student:
    name: str
    lr: float
    join_at: float  # seconds after the join phase starts
    press_at: float  # seconds after the teacher's "train" (or after joining, with --train-on-join)
    join_s: float = math.nan
    join_status: int = 0
    joined_at: float = math.nan
    post_at: float = math.nan
    post_s: float = math.nan
    post_status: int = 0
    refusal: str = ""
    run: str | None = None  # the run the class took (201)
    orphan: str | None = None  # a run the server queued although the POST failed (5xx): no lane, no CSV row
    dataset: str = ""
    reader: RunReader | None = None
    error: str = ""


@dataclass
class Classroom:
    code: str
    teacher: httpx.AsyncClient
    values: dict  # what every student sends besides its lr
    tls: ssl.SSLContext
    students: list[Student] = field(default_factory=list)
    go_at: float = math.inf  # when the teacher said "train"


def learning_rates(n: int) -> list[float]:
    """n learning rates spread evenly on a log scale over [0.01, 0.5]: none diverges on these images."""
    if n == 1:
        return [0.1]
    return [round(LOWEST_LR * (HIGHEST_LR / LOWEST_LR) ** (i / (n - 1)), 5) for i in range(n)]


def plan_students(args) -> list[Student]:
    draw = random.Random(14)
    rates = learning_rates(args.students)
    return [
        Student(
            name=f"S{i + 1:02d}",
            lr=rates[i],
            join_at=draw.uniform(0, args.join_window),
            press_at=draw.uniform(0, args.press_window),
        )
        for i in range(args.students)
    ]


def new_client(base: str, tls: ssl.SSLContext) -> httpx.AsyncClient:
    # one TLS context for all (unused over http): httpx would make one per client, ~25 ms of CPU each
    limits = httpx.Limits(max_connections=2, max_keepalive_connections=1)
    return httpx.AsyncClient(base_url=base, timeout=30, limits=limits, verify=tls)


async def join(client: httpx.AsyncClient, code: str, student: Student) -> None:
    started = time.time()
    try:
        answer = await client.post(f"/api/classes/{code}/students", json={"name": student.name})
    except httpx.HTTPError as error:
        student.error = f"join: {type(error).__name__} {error}"
        return
    student.joined_at = time.time()
    student.join_s, student.join_status = student.joined_at - started, answer.status_code
    if answer.status_code != 201:
        student.error = f"join {answer.status_code}: {answer.text[:200]}"


async def train(client: httpx.AsyncClient, port: int, room: Classroom, student: Student, until: float):
    """Press Train with this student's lr; read the run's own stream to `finished`."""
    student.post_at = time.time()
    try:
        answer = await client.post(f"/api/classes/{room.code}/runs", json=room.values | {"lr": student.lr})
    except httpx.HTTPError as error:
        student.error = f"POST run: {type(error).__name__} {error}"
        return
    student.post_s, student.post_status = time.time() - student.post_at, answer.status_code
    if answer.status_code != 201:
        text = answer.text[:200]
        student.refusal = text if answer.status_code == 429 else ""
        student.error = f"POST run {answer.status_code}: {text}"
        if answer.status_code >= 500:
            await follow_orphan(client, port, student, until)
        return
    run = answer.json()
    student.run, student.dataset = run["id"], run["spec"].get("dataset", "")
    await read_own(client, port, student, run["id"], until)


async def read_own(client: httpx.AsyncClient, port: int, student: Student, run_id: str, until: float) -> None:
    cookie = client.cookies.get(COOKIE, "")
    student.reader = RunReader(request_bytes(port, f"/api/runs/{run_id}/events", cookie), run_id)
    await open_reader(student.reader, port, until)
    await read_until(student.reader, until)


async def follow_orphan(client: httpx.AsyncClient, port: int, student: Student, until: float) -> None:
    """After a 5xx: did the server queue the run all the same? Ask as the student (its runs, newest
    first; a class student has no other) and follow it, so the worker's time for it is seen."""
    mine = None
    for _ in range(2):  # uvicorn closes the connection after a 500: the first try may meet it closed
        with contextlib.suppress(httpx.HTTPError):
            mine = await client.get("/api/runs")
            break
    runs = mine.json() if mine is not None and mine.status_code == 200 else []
    if runs:
        student.orphan = runs[0]["id"]
        await read_own(client, port, student, student.orphan, until)


async def one_student(
    base: str, port: int, room: Classroom, student: Student, start: float, go: asyncio.Event, until: float
) -> None:
    """Join at its moment; train when told (or at once with --train-on-join), at its own delay."""
    async with new_client(base, room.tls) as client:
        await asyncio.sleep(max(0.0, start + student.join_at - time.time()))
        await join(client, room.code, student)
        if student.error:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(go.wait(), max(0.1, until - time.time()))
        if not go.is_set():
            student.error = "never told to train (deadline)"
            return
        await asyncio.sleep(max(0.0, room.go_at + student.press_at - time.time()))
        await train(client, port, room, student, until)


# ---------------------------------------------------------------------------------------------------
# Phases


async def create_class(teacher: httpx.AsyncClient, title: str, unlocked: list[str]) -> str:
    answer = await teacher.post(
        "/api/classes", json={"title": title, "preset": "softmax", "unlocked": unlocked}
    )
    if answer.status_code != 201:
        raise RuntimeError(f"POST /api/classes answered {answer.status_code}: {answer.text[:300]}")
    return answer.json()["code"]


async def baseline(base: str, port: int, tls, values: dict, unlocked: list[str], runs: int, until: float):
    """One student of a class of its own trains `runs` runs one after another, each alone on the worker:
    per run, the time from its POST to `finished` on its stream, its training (`started` to its last
    `epoch` there) and its steady epoch time."""
    rates = learning_rates(runs)
    async with new_client(base, tls) as teacher:
        room = Classroom(await create_class(teacher, "Bench baseline", unlocked), teacher, values, tls)
        room.go_at = time.time()
        async with new_client(base, tls) as client:
            lone = Student("Alone", rates[0], 0.0, 0.0)
            await join(client, room.code, lone)
            if lone.error:
                raise RuntimeError(f"the baseline student could not join: {lone.error}")
            times = []
            for lr in rates:
                lone.lr = lr
                await train(client, port, room, lone, until)
                reader = lone.reader
                if lone.error or reader is None or reader.status != "done":
                    raise RuntimeError(f"a baseline run did not end done: {lone.error or reader.error}")
                finished = reader.arrivals[("finished", 0)]
                times.append(
                    {
                        "total": finished - lone.post_at,
                        "training": reader.last_epoch_at() - reader.arrivals[("started", 0)],
                        "epoch": steady_epoch(reader.epoch_seconds),
                    }
                )
    return times


async def the_class(
    live_base: str, port: int, tls, values: dict, unlocked: list[str], args, until: float, sampler: Sampler
):
    """The class itself: teacher, board, students; what each saw."""
    students = plan_students(args)
    async with new_client(live_base, tls) as teacher:
        room = Classroom(await create_class(teacher, "Bench class", unlocked), teacher, values, tls, students)
        board = Board(port, room.code, teacher.cookies.get(COOKIE, ""), until)
        sampler.clients.append(board.process.pid)
        opened, problem = await asyncio.to_thread(board.wait_open, 60)
        if not opened:
            board.result(0.1)
            raise RuntimeError(f"the board's stream did not open: {problem}")
        lags: list[tuple[float, float]] = []
        halt = asyncio.Event()
        lag_task = asyncio.create_task(loop_lag(lags, halt))
        go = asyncio.Event()
        start = time.time() + 0.2
        if args.train_on_join:
            room.go_at = -math.inf
            go.set()
        tasks = [
            asyncio.create_task(one_student(live_base, port, room, s, start, go, until)) for s in students
        ]
        if not args.train_on_join:
            await wait_joined(students, until)
            room.go_at = time.time()
            go.set()
        await wait_posted(students, until)
        board.expect(sum(1 for s in students if s.run is not None))
        await asyncio.wait(tasks, timeout=max(0.1, until - time.time()))
        for task in tasks:
            task.cancel()
        halt.set()
        await lag_task
        board_record = await asyncio.to_thread(board.result, max(0.1, min(10.0, until - time.time())))
        csv_rows = await class_csv(teacher, room.code)
    return {"code": room.code, "students": students, "board": board_record, "lag": lags, "csv": csv_rows}


async def wait_joined(students: list[Student], until: float) -> None:
    while time.time() < until and any(math.isnan(s.joined_at) and not s.error for s in students):
        await asyncio.sleep(0.02)


async def wait_posted(students: list[Student], until: float) -> None:
    while time.time() < until and any(s.run is None and not s.error for s in students):
        await asyncio.sleep(0.05)


async def class_csv(teacher: httpx.AsyncClient, code: str) -> list[dict]:
    answer = await teacher.get(f"/classes/{code}/export.csv")
    if answer.status_code != 200:
        return [{"kind": "error", "status": f"export {answer.status_code}: {answer.text[:200]}"}]
    return list(csv.DictReader(io.StringIO(answer.text)))


async def endings(base: str, tls, students: list[Student]) -> dict[str, str]:
    """Each trained run's status as the server keeps it (accepted and orphan runs)."""
    async with new_client(base, tls) as client:
        return {
            s.reader.run: (await client.get(f"/api/runs/{s.reader.run}")).json().get("status", "?")
            for s in trained(students)
        }


async def bench(live, args, until: float) -> dict:
    port = int(live.base.rsplit(":", 1)[1])
    tls = ssl.create_default_context()
    epochs_unlocked = args.epochs != BOOK_EPOCHS
    unlocked = ["lr", "epochs"] if epochs_unlocked else ["lr"]
    values = {"epochs": args.epochs} if epochs_unlocked else {}
    sampler = Sampler(live.process.pid)
    sampler.start()
    await asyncio.sleep(1.0)
    idle_rss = statistics.median(sampler.rss_between(0, math.inf) or [math.nan])
    log("baseline: a warm-up run (the worker loads the data), then runs alone, one after another ...")
    await baseline(live.base, port, tls, values, unlocked, 1, until)
    other_baseline = OtherLoad().start()
    alone = await baseline(live.base, port, tls, values, unlocked, args.alone, until)
    log("  alone: " + ", ".join(f"{run['total']:.2f} s" for run in alone))
    got_other_baseline = other_baseline.stop()
    log(f"the class: {args.students} students ...")
    other = OtherLoad().start()
    class_started = time.time()
    got = await the_class(live.base, port, tls, values, unlocked, args, until, sampler)
    got["other"], got["other_baseline"] = other.stop(), got_other_baseline
    got["class_window"] = (class_started, time.time())
    got["statuses"] = await endings(live.base, tls, got["students"])
    if until - time.time() > 30 and all(status in FINISHED for status in got["statuses"].values()):
        log("baseline again, after the class ...")
        other_baseline = OtherLoad().start()
        after = await baseline(live.base, port, tls, values, unlocked, args.alone, until)
        log("  alone: " + ", ".join(f"{run['total']:.2f} s" for run in after))
        got["other_baseline"] = max(got["other_baseline"], other_baseline.stop())
        alone = alone + after
    got["hwm"] = sampler.stop()
    got.update(sampler=sampler, idle_rss=idle_rss, alone=alone, workers=len(sampler.workers))
    got["server_errors"] = tracebacks(live.log())
    return got


def tracebacks(server_log: str, most: int = 3) -> list[str]:
    """The first few tracebacks in the server's log (a 5xx leaves one there), each up to its error line."""
    found, lines = [], server_log.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("Traceback (most recent call last)") and len(found) < most:
            end = index + 1
            while end < len(lines) and (lines[end].startswith((" ", "\t")) or not lines[end].strip()):
                end += 1
            found.append("\n".join(lines[max(0, index - 2) : end + 1]))
    return found


# ---------------------------------------------------------------------------------------------------
# Figures


def three(values: list[float]) -> str:
    return " / ".join(ms(quantile(values, q)) for q in (0.5, 0.95, 0.99))


@dataclass
class Figures:
    joins: list[float]
    join_span: float
    first_submit: float
    last_finished: float  # nan when a trained run did not finish before the deadline
    makespan: float
    delays: list[float]
    relative: list[float]
    lost: int
    compared: int
    lost_examples: list[str]
    not_compared: int  # arrived on a student's stream after the board had stopped (deadline)
    complete_streams: int
    finished_at: dict[str, float]


def trained(students: list[Student]) -> list[Student]:
    """The students whose run the server trains: accepted ones and those left with an orphan run."""
    return [s for s in students if s.reader is not None]


def figures(got: dict) -> Figures:
    students, board = got["students"], got["board"]
    joined = [s for s in students if s.join_status == 201]
    joins = [s.join_s for s in joined]
    join_span = max((s.joined_at for s in joined), default=math.nan) - min(
        (s.joined_at - s.join_s for s in joined), default=math.nan
    )
    first_submit = min((s.post_at for s in students if s.post_at == s.post_at), default=math.nan)
    finished_at = {s.reader.run: s.reader.arrivals[("finished", 0)] for s in trained(students)
                   if ("finished", 0) in s.reader.arrivals}  # fmt: skip
    every_one = len(finished_at) == len(trained(students))
    last_finished = max(finished_at.values(), default=math.nan) if every_one else math.nan
    delays = [arrival - t for arrival, _, _, t in board.get("events", [])]
    lost = compare_with_board(got)
    return Figures(
        joins, join_span, first_submit, last_finished, last_finished - first_submit, delays, *lost,
        sum(1 for s in students if s.run is not None and complete(s.reader)), finished_at,
    )  # fmt: skip


def complete(reader: RunReader | None) -> bool:
    """Ids 1..N in order and `finished` last."""
    return bool(reader and reader.finished and reader.event_ids == list(range(1, len(reader.event_ids) + 1)))


def compare_with_board(got: dict) -> tuple[list[float], int, int, list[str], int]:
    """For every accepted run, each started/step/epoch/finished event of its student's stream on the
    board: (board arrival - stream arrival of the found ones, lost, compared, a few lost, not compared).
    When the board was stopped at the deadline, events that reached a student in the last second before
    are not compared."""
    board = got["board"]
    run_of_lane = board.get("lanes", {})
    on_board: dict[str, dict[tuple[str, int], float]] = {}
    for arrival, lane, key, _ in board.get("events", []):
        on_board.setdefault(run_of_lane.get(lane, f"lane {lane}"), {})[key] = arrival
    cutoff = board.get("stopped_at", math.inf) - 1.0 if board.get("error") else math.inf
    relative, lost, compared, examples, skipped = [], 0, 0, [], 0
    for student in (s for s in got["students"] if s.run is not None and s.reader is not None):
        mine = on_board.get(student.run, {})
        for key, arrival in student.reader.arrivals.items():
            if arrival >= cutoff:
                skipped += 1
                continue
            compared += 1
            if key in mine:
                relative.append(mine[key] - arrival)
                continue
            lost += 1
            if len(examples) < 5:
                examples.append(f"{student.name} {key[0]} {key[1]}")
    return relative, lost, compared, examples, skipped


@dataclass
class Cohort:
    runs: list[str]
    without_lane: int
    start: float  # the first `started` any member's student saw (a replay comes later, never earlier)
    trained: float  # the last member's last `epoch`: the worker is done with the cohort
    end: float  # the last member's `finished`: relayed once the store has the run; nan if missing
    epoch: float  # the cohort's epoch time, steady


def cohorts(got: dict) -> list[Cohort]:
    """The runs trained, grouped into the cohorts the pool formed: a cohort's members all report the
    cohort's own epoch time in their `epoch` events, so equal first-epoch `seconds` means one cohort."""
    orphans = {s.orphan for s in got["students"] if s.orphan}
    groups: dict[object, list[RunReader]] = {}
    for student in trained(got["students"]):
        reader = student.reader
        if ("started", 0) in reader.arrivals:  # a run still queued at the deadline is in none
            groups.setdefault(reader.epoch_seconds.get(1, reader.run), []).append(reader)
    found = []
    for readers in groups.values():
        ends = [r.arrivals.get(("finished", 0), math.nan) for r in readers]
        found.append(
            Cohort(
                runs=[r.run for r in readers],
                without_lane=sum(r.run in orphans for r in readers),
                start=min(r.arrivals[("started", 0)] for r in readers),
                trained=max(r.last_epoch_at() for r in readers),
                end=max(ends) if all(end == end for end in ends) else math.nan,
                epoch=steady_epoch(readers[0].epoch_seconds),
            )
        )
    return sorted(found, key=lambda cohort: cohort.start)


def cohort_table(got: dict, fig: Figures, alone_epoch: float) -> list[str]:
    """Per cohort, in seconds after the first submission as its students' streams saw them: start,
    end of training, last `finished`; its epoch time, per member against a run alone's epoch; and how
    long after the cohort before it finished training it started (the worker between cohorts)."""
    lines = [
        "| cohort | members (without a lane) | started | training over (last `epoch`) | last `finished` "
        "| epoch s | per member epoch s | x a run alone's epoch | started after the one before trained s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    previous = math.nan
    for number, cohort in enumerate(cohorts(got), start=1):
        size, at = len(cohort.runs), fig.first_submit
        per_member = cohort.epoch / size
        lines.append(
            f"| {number} | {size} ({cohort.without_lane}) | {cohort.start - at:.2f} "
            f"| {cohort.trained - at:.2f} | {cohort.end - at:.2f} | {cohort.epoch:.3f} | {per_member:.4f} "
            f"| {per_member / alone_epoch:.2f} | {cohort.start - previous:.2f} |"
        )
        previous = cohort.trained
    return lines


def timeline(got: dict, fig: Figures) -> list[str]:
    """The class phase in bins from the first submission: runs waiting / training / finished at the
    bin's end, board events, their delay, CPU and RSS."""
    sampler: Sampler = got["sampler"]
    start = fig.first_submit
    end = max(
        fig.last_finished if fig.last_finished == fig.last_finished else got["class_window"][1], start + 1
    )
    width = max(2, math.ceil((end - start) / 15))
    posted = [s.post_at for s in trained(got["students"])]
    starts = [cohort.start for cohort in cohorts(got) for _ in cohort.runs]
    events = got["board"].get("events", [])
    lines = [
        "| t s | waiting / training / finished (at the end) | board events | board delay p95 ms "
        "| web CPU | worker CPU | machine busy (cores) | web RSS MB (max) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for low in range(0, math.ceil(end - start), width):
        lo, hi = start + low, start + low + width
        waiting = sum(1 for p in posted if p < hi) - sum(1 for t in starts if t < hi)
        training = sum(1 for t in starts if t < hi) - sum(1 for t in fig.finished_at.values() if t < hi)
        finished = sum(1 for t in fig.finished_at.values() if t < hi)
        here = [arrival - t for arrival, _, _, t in events if lo <= arrival < hi]
        web, workers, machine, _ = sampler.cpu_share(lo, hi)
        rss = max(sampler.rss_between(lo, hi), default=math.nan) / 1024
        lines.append(
            f"| {low}-{low + width} | {waiting} / {training} / {finished} | {len(here)} "
            f"| {ms(quantile(here, 0.95))} | {web:.0%} | {workers:.0%} | {machine:.2f} | {rss:.0f} |"
        )
    return lines


def report(got: dict, args, data_note: str, started: str, elapsed: float) -> str:
    fig = figures(got)
    press = (
        "as soon as joined" if args.train_on_join else f"within {args.press_window:g} s of the teacher's go"
    )
    out = [
        "`" + " ".join(["python bench/classroom.py", *args.argv]) + "`",
        "",
        f"{started}; {environment()}; took {elapsed:.0f} s",
        f"data: {data_note}; {got['workers']} worker process, two torch threads; PLAYGROUND_COHORT_MAX "
        f"{os.environ.get('PLAYGROUND_COHORT_MAX', '32 (default)')}; class {got['code']}: "
        f"{args.students} students joining over {args.join_window:g} s, pressing Train {press}",
        "",
        "| measure | figure | target | verdict |",
        "|---|---|---|---|",
    ]
    out += [f"| {' | '.join(row)} |" for row in class_rows(got, fig, args) + stream_rows(got, fig)]
    out += ["", "Cohorts the pool formed (times on the students' streams, s after the first submission):"]
    out += [""] + cohort_table(got, fig, statistics.median(run["epoch"] for run in got["alone"]))
    out += ["", "Timeline (t: seconds from the first submission):", ""]
    out += timeline(got, fig)
    for number, text in enumerate(got["server_errors"], start=1):
        out += ["", f"Server log, traceback {number}:", "", "```", text, "```"]
    return "\n".join(out)


def class_rows(got: dict, fig: Figures, args) -> list[tuple[str, str, str, str]]:
    """Joining, submitting, the runs' endings and time, against the baseline."""
    students, n = got["students"], len(got["students"])
    accepted = [s for s in students if s.run is not None]
    refused = [s for s in students if s.post_status == 429]
    others = [s for s in students if s.error and s.post_status != 429]
    statuses = got["statuses"]
    datasets = sorted({s.dataset for s in accepted})
    alone_total = statistics.median(run["total"] for run in got["alone"])
    alone_training = statistics.median(run["training"] for run in got["alone"])
    alone_epoch = statistics.median(run["epoch"] for run in got["alone"])
    each_alone = ", ".join(f"{run['total']:.2f}" for run in got["alone"])
    one_by_one = alone_total * n
    csv_runs = [row for row in got["csv"] if row.get("kind") == "run"]
    posted = sum(1 for s in students if s.post_status)
    refusals = f"; 429 said: {refused[0].refusal}" if refused else ""
    refusals += f"; e.g. {others[0].name}: {others[0].error}" if others else ""
    orphans = [s for s in students if s.orphan]
    runs_trained = len(trained(students))
    return [
        (
            "students joined (distinct cookies); first join request to last answer",
            f"{len(fig.joins)} / {n}; {fig.join_span:.2f} s (arrivals spread over {args.join_window:g} s)",
            "all within 5 s",
            verdict(len(fig.joins) == n and fig.join_span <= 5.0),
        ),
        ("join, request to response: p50 / p95 / p99 ms", three(fig.joins), "(information)", "-"),
        (
            "runs posted / accepted / refused (429) / other errors",
            f"{posted} / {len(accepted)} / {len(refused)} / {len(others)}{refusals}",
            "all accepted",
            verdict(len(accepted) == n),
        ),
        (
            "runs the server queued although its POST failed (5xx): trained, but no lane on the board and "
            "no row in the class export",
            f"{len(orphans)}" + (f" ({', '.join(s.name for s in orphans[:10])})" if orphans else ""),
            "0",
            verdict(not orphans),
        ),
        (
            "POST run, request to response: p50 / p95 / p99 ms",
            three([s.post_s for s in accepted]),
            "(information)",
            "-",
        ),
        (
            "the class runs' dataset (their spec); learning rates",
            f"{', '.join(datasets) or '-'}; lr {students[0].lr:g} to {students[-1].lr:g}, "
            f"{args.epochs} epochs, batch 256",
            "fashion-mnist",
            verdict(datasets == ["fashion-mnist"]),
        ),
        (
            "first submission to the last `finished` on the students' streams (every run trained: "
            "accepted and without a lane)",
            f"{fig.makespan:.1f} s ({runs_trained} runs)"
            + ("" if fig.makespan == fig.makespan else f"; {len(fig.finished_at)} finished by the deadline"),
            f"<= {TARGET_MAKESPAN_S:g} s",
            verdict(fig.makespan <= TARGET_MAKESPAN_S),
        ),
        (
            "runs trained ending done (the server's statuses)",
            f"{sum(v == 'done' for v in statuses.values())} / {runs_trained} "
            f"({', '.join(sorted(set(statuses.values()))) or '-'})",
            "all done",
            verdict(bool(accepted) and all(v == "done" for v in statuses.values())),
        ),
        (
            f"baseline: one run alone, POST to `finished` (median of {len(got['alone'])}: before the "
            "class, and after it when time was left); its training, `started` to the last `epoch`; its epoch",
            f"{alone_total:.2f} s ({each_alone}); {alone_training:.2f} s; {alone_epoch:.3f} s",
            "(information)",
            "-",
        ),
        (
            f"one by one ({n} x one run alone) / the class",
            f"{one_by_one:.1f} s / {fig.makespan:.1f} s = {one_by_one / fig.makespan:.1f}x",
            "(information)",
            "-",
        ),
        (
            "class CSV export: run rows (their statuses)",
            f"{len(csv_runs)} ({', '.join(sorted({row['status'] for row in csv_runs})) or '-'})",
            f"{len(accepted)}",
            verdict(len(csv_runs) == len(accepted)),
        ),
    ]


def steady_epoch(epoch_seconds: dict[int, float]) -> float:
    """The median epoch time after the first (the first also warms up), or the only one."""
    later = [seconds for epoch, seconds in epoch_seconds.items() if epoch > 1]
    return statistics.median(later or list(epoch_seconds.values()) or [math.nan])


def finish_lags(students: list[Student]) -> list[float]:
    """Per trained run, its `finished` after its last `epoch` on the student's stream: the trainer sends
    them back to back; the web process relays `finished` only once the store has the whole run."""
    lags = []
    for student in trained(students):
        arrivals = student.reader.arrivals
        if ("finished", 0) in arrivals:
            lags.append(arrivals[("finished", 0)] - student.reader.last_epoch_at())
    return [lag for lag in lags if lag == lag]


def stream_rows(got: dict, fig: Figures) -> list[tuple[str, str, str, str]]:
    """The board's delay and completeness, the runs' endings relayed, memory and CPU."""
    board, sampler = got["board"], got["sampler"]
    accepted = sum(1 for s in got["students"] if s.run is not None)
    window = (fig.first_submit, fig.last_finished if fig.last_finished == fig.last_finished else time.time())
    peak_rss = max(sampler.rss_between(*got["class_window"]), default=math.nan) / 1024
    web, workers, machine, clients = sampler.cpu_share(*window)
    class_lag = [lag for at, lag in got["lag"] if window[0] <= at <= window[1]]
    board_lag = [lag for at, lag in board.get("lag", []) if window[0] <= at <= window[1]]
    trouble = board.get("error") or board.get("crash")
    others = (got["other_baseline"], got["other"])  # cores other processes kept busy
    lost = f"{fig.lost} of {fig.compared}"
    lost += f"; e.g. {', '.join(fig.lost_examples)}" if fig.lost_examples else ""
    lost += f"; board: {trouble}" if trouble else ""
    lost += f"; {fig.not_compared} not compared (after the board stopped)" if fig.not_compared else ""
    return [
        (
            "board delay, arrival - `t` (entry into the class feed), lane events: p50 / p95 / p99 / max ms",
            f"{three(fig.delays)} / {ms(max(fig.delays, default=math.nan))} (n={len(fig.delays)})",
            f"p95 <= {TARGET_BOARD_P95_S * 1000:.0f} ms",
            verdict(quantile(fig.delays, 0.95) <= TARGET_BOARD_P95_S),
        ),
        (
            "board arrival - arrival of the same event on the student's own stream: p50 / p95 / p99 / max ms",
            f"{three(fig.relative)} / {ms(max(fig.relative, default=math.nan))} (n={len(fig.relative)})",
            "(information)",
            "-",
        ),
        (
            "lost: events of the students' streams (started / step / epoch / finished) not on the board",
            lost,
            "0 lost",
            verdict(fig.compared > 0 and fig.lost == 0 and not trouble),
        ),
        (
            "`finished` after the run's last `epoch` on its student's stream (the store keeps the run "
            "first): p50 / p95 / p99 ms",
            three(finish_lags(got["students"])),
            "(information)",
            "-",
        ),
        (
            "students' streams complete (ids 1..N in order, `finished` last)",
            f"{fig.complete_streams} / {accepted}",
            "(information)",
            "-",
        ),
        (
            "web process RSS: idle / peak during the class / VmHWM at the end, MB",
            f"{got['idle_rss'] / 1024:.0f} / {peak_rss:.0f} / {got['hwm'] / 1024:.0f}",
            "(information)",
            "-",
        ),
        (
            "cores busy from the first submission to the last `finished`: web process / worker / the "
            "bench's clients / machine; other processes during the baseline and the class",
            f"{web:.2f} / {workers:.2f} / {clients:.2f} / {machine:.2f}; "
            f"{got['other_baseline']:.2f} and {got['other']:.2f}{noisy(max(others))}",
            "(information)",
            "-",
        ),
        (
            "event-loop lag, the students' process; the board's process: p99 / max ms",
            f"{ms(quantile(class_lag, 0.99))} / {ms(max(class_lag, default=math.nan))}; "
            f"{ms(quantile(board_lag, 0.99))} / {ms(max(board_lag, default=math.nan))}",
            "(information)",
            "-",
        ),
    ]


def commit() -> str:
    """The checkout's commit, and how many files under app/ differ from it (the server runs what is on
    disk, in a checkout others may be changing)."""
    git = ["git", "-C", str(ROOT)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout
    changed = subprocess.run([*git, "status", "--porcelain", "app"], capture_output=True, text=True).stdout
    count = len(changed.splitlines())
    return (head.strip() or "?") + (f" (+{count} uncommitted files under app/)" if count else "")


# ---------------------------------------------------------------------------------------------------
# Main


def prepare_data(data_dir: Path) -> str:
    """Fashion-MNIST in data_dir/fashion-mnist, where the server looks: links to the real files when the
    settings' data dir has them, else full-size synthetic ones. (Imported here: they load torch.)"""
    from train_speed import write_synthetic

    from app.settings import get_settings
    from app.training.data import fashion_mnist

    home = get_settings().data_dir
    if fashion_mnist.is_on_disk(home):
        fashion_mnist.folder(data_dir).mkdir(parents=True)
        for name in fashion_mnist.FILES:
            (fashion_mnist.folder(data_dir) / name).symlink_to(fashion_mnist.folder(home) / name)
        return f"real Fashion-MNIST (linked from {fashion_mnist.folder(home)})"
    write_synthetic(data_dir)
    assert fashion_mnist.is_on_disk(data_dir)
    return "SYNTHETIC Fashion-MNIST-format files (60,000 + 10,000 28x28 images, train_speed.py's generator)"


def last_resort() -> None:
    log("past the deadline: killing the server and exiting")
    for group in SERVER_GROUPS:
        with contextlib.suppress(OSError):
            os.killpg(group, signal.SIGKILL)
    os._exit(3)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--students", type=int, help="students, each one softmax run (60)")
    parser.add_argument("--epochs", type=int, help="epochs of every run (10, the book's)")
    parser.add_argument("--quick", action="store_true", help="12 students, 2 epochs")
    parser.add_argument("--join-window", type=float, default=5.0, help="seconds over which students join (5)")
    parser.add_argument(
        "--press-window", type=float, default=1.0, help="seconds over which they press Train (1)"
    )
    parser.add_argument(
        "--train-on-join", action="store_true", help="each presses Train as soon as it joined"
    )
    parser.add_argument(
        "--alone", type=int, default=2, help="runs alone before the class and again after it, each (2)"
    )
    parser.add_argument("--deadline", type=float, default=285.0, help="hard limit on the whole run, seconds")
    args = parser.parse_args()
    args.argv = sys.argv[1:]
    students, epochs = (12, 2) if args.quick else (60, BOOK_EPOCHS)
    args.students = min(max(args.students or students, 1), 500)
    args.epochs = min(max(args.epochs or epochs, 1), 100)
    args.alone = min(max(args.alone, 1), 10)
    args.join_window = min(max(args.join_window, 0.0), 60.0)
    args.press_window = min(max(args.press_window, 0.0), 60.0)
    args.deadline = min(max(args.deadline, 60.0), 3600.0)
    return args


def main() -> int:
    args = parse_args()
    started = time.time()
    started_utc = f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}, commit {commit()}"
    until = started + args.deadline - 20  # 20 s left to stop the server and report
    raise_open_files_limit(4096)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    watchdog = threading.Timer(args.deadline + 30, last_resort)
    watchdog.daemon = True
    watchdog.start()
    with tempfile.TemporaryDirectory(prefix="classroom_") as scratch:
        data_dir = Path(scratch)
        data_note = prepare_data(data_dir)
        log(f"data: {data_note}")
        with running_server(data_dir, workers=1, worker_threads=2) as live:
            SERVER_GROUPS.append(live.process.pid)
            live.wait_ready_workers(1)
            got = asyncio.run(bench(live, args, until))
    watchdog.cancel()
    print(report(got, args, data_note, started_utc, time.time() - started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
