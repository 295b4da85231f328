"""The embedded backend: a few long-lived worker processes fed from one fair queue. When a worker takes
the next run, the waiting runs that can share its minibatches (app/training/cohort's signature: same
model shape, data, batch size, epochs and seed) go with it as one cohort, trained as one batched model.

Workers are spawned, never forked, so CUDA and torch's threads never meet fork; the web process never
imports torch. All bookkeeping runs on the asyncio loop's thread: a reader thread only waits on the
workers' pipes and process sentinels and hands what it sees to the loop.
"""

import asyncio
import contextlib
import ctypes
import multiprocessing
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait

from . import pacing
from .endings import ended
from .worker import EVENT, IDLE, READY, worker_main

GATHER_S = 0.25  # a new run waits this long for others pressed at the same moment, to start as one cohort
QUIET_S = 0.05  # a run that comes to a quiet server waits only this long, unless another comes meanwhile
BATCH_MESSAGES = 500  # messages from one worker handed to the loop at once, at most
SERVED_REMEMBERED = 10_000  # visitors whose last turn the queue remembers
OnEvent = Callable[..., None]  # (run id, event, when it was received)
OnState = Callable[[str, str], None]


Job = tuple[str, dict, tuple | None]  # run id, spec, cohort signature (None: trains alone)


def cohort_signature(raw_spec: dict) -> tuple | None:
    """Which waiting runs may train together with this one (torch is not loaded for this)."""
    from app.training.cohort import signature
    from app.training.specs import SpecError, parse_spec

    try:
        return signature(parse_spec(raw_spec))
    except SpecError:  # a spec the trainer will refuse: it goes alone and fails alone
        return None


def cohort_size_limit(raw_spec: dict, cohort_max: int, max_step_work: float) -> int:
    """How many runs like this one a cohort may hold: `cohort_max` (PLAYGROUND_COHORT_MAX), and no more
    than keep a cohort's step (about the sum of its members' steps) within the one-step work budget, so
    a cancel still lands within a step's time."""
    from app.training.budget import cost
    from app.training.specs import SpecError, parse_spec

    try:
        step_work = cost(parse_spec(raw_spec).model_dump()).step_work
    except SpecError:
        return 1
    return max(1, int(min(cohort_max, max_step_work / step_work)))


class FairQueue:
    """Waiting runs, served one visitor at a time in turn: the next run to start is the first waiting
    run of the visitor served longest ago (or never), so however many runs one visitor queues, every
    other visitor's next run waits for at most the one that is running."""

    def __init__(self):
        self.lanes: dict[str, deque[Job]] = {}  # owner -> their waiting jobs, in order
        self.served_at: dict[str, int] = {}  # owner -> the tick of their last start
        self.tick = 0
        self.count = 0  # jobs waiting: a plain int, safe to read from another thread
        self._positions: dict[str, int] | None = None  # run id -> place in line, until the line changes

    def __len__(self) -> int:
        return self.count

    def __bool__(self) -> bool:
        return bool(self.lanes)

    def push(self, owner: str, job: Job) -> None:
        self.lanes.setdefault(owner, deque()).append(job)
        self._changed(+1)

    def _changed(self, jobs: int) -> None:
        self.count += jobs
        self._positions = None

    def pop(self) -> Job:
        self._changed(-1)
        owner = self._next_owner(self.lanes, self.served_at)
        self.tick += 1
        self.served_at[owner] = self.tick
        if len(self.served_at) > SERVED_REMEMBERED:  # forget visitors with nothing waiting
            self.served_at = {o: t for o, t in self.served_at.items() if o in self.lanes or o == owner}
        return self._take(self.lanes, owner)

    @staticmethod
    def _next_owner(lanes: dict, served_at: dict) -> str:
        return min(lanes, key=lambda owner: served_at.get(owner, 0))  # ties: who queued first

    @staticmethod
    def _take(lanes: dict, owner: str) -> Job:
        job = lanes[owner].popleft()
        if not lanes[owner]:
            del lanes[owner]
        return job

    def remove(self, run_id: str) -> bool:
        for owner, lane in self.lanes.items():
            for job in lane:
                if job[0] == run_id:
                    lane.remove(job)
                    if not lane:
                        del self.lanes[owner]
                    self._changed(-1)
                    return True
        return False

    def take_sharing(self, signature: tuple | None, limit: int) -> list[Job]:
        """Up to `limit` waiting jobs with this cohort signature, in the order they would start: they
        join the cohort a worker is starting now instead of waiting their turn. A run that was ahead of
        them is not passed over for long: a member adds a few percent to a cohort's time, not a run's."""
        if signature is None or limit <= 0:
            return []
        waiting = {job[0]: job for lane in self.lanes.values() for job in lane}
        taken = [waiting[run_id] for run_id in self.order() if waiting[run_id][2] == signature][:limit]
        for job in taken:
            self.remove(job[0])
        return taken

    def position(self, run_id: str) -> int | None:
        """1 for the next run to start; None when the run is not waiting. Worked out once per change
        of the line: every queued page asks for its place each second."""
        if self._positions is None:
            self._positions = {run_id: place for place, run_id in enumerate(self.order(), start=1)}
        return self._positions.get(run_id)

    def order(self) -> list[str]:
        """Run ids in the order they will start."""
        lanes = {owner: deque(lane) for owner, lane in self.lanes.items()}
        served_at, tick, order = dict(self.served_at), self.tick, []
        while lanes:
            owner = self._next_owner(lanes, served_at)
            tick += 1
            served_at[owner] = tick
            order.append(self._take(lanes, owner)[0])
        return order


@dataclass(eq=False)
class Worker:
    """The pool's handle on one worker process."""

    number: int
    process: multiprocessing.Process
    jobs: Connection
    messages: Connection
    stop_flags: object  # one per member of the job it trains; shared with the process
    pace_control: object  # pause, steps asked for, steps per second (pacing.py): for a run training alone
    pace_wake: object  # raised after each change of pace_control (pacing.wake)
    ready: bool = False
    run_ids: list[str] = field(default_factory=list)  # the job it trains: one run, or a cohort
    pid: int | None = None
    alive: bool = field(default=True)


class LocalPool:
    def __init__(
        self,
        size: int,
        data_dir: str,
        device_for: Callable[[int], str],
        threads: int,
        on_event: OnEvent,
        on_state: OnState,
        cohort_max: int = 32,
        max_step_work: float = float("inf"),
        pause_timeout_s: float = 600.0,
    ):
        self.pause_timeout_s = pause_timeout_s
        self.size, self.data_dir, self.device_for, self.threads = size, data_dir, device_for, threads
        self.cohort_max, self.max_step_work = cohort_max, max_step_work
        self.gather_s: float | None = GATHER_S
        self._gathering: asyncio.TimerHandle | None = None
        self._gathering_since = 0.0  # loop time of the submit that started the gathering
        self._quiet_wait = False  # the gathering is a quiet server's short wait (QUIET_S)
        self._last_submit = float("-inf")  # loop time of the last submit
        self.on_event, self.on_state = on_event, on_state
        self.pending = FairQueue()
        self.workers: list[Worker] = []
        self._context = multiprocessing.get_context("spawn")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing = False
        self.start_failures = 0  # workers in a row that died before they were ready

    # --- life cycle -------------------------------------------------------------------------------
    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.workers = [self._spawn(number) for number in range(self.size)]
        threading.Thread(target=self._read_forever, name="pool-reader", daemon=True).start()

    def close(self) -> None:
        self._closing = True
        for worker in self.workers:
            worker.stop_flags[:] = [True] * self.cohort_max
            pacing.wake(worker.pace_wake)  # a paused run ends now, not at its next look
            with contextlib.suppress(OSError):
                worker.jobs.send(None)
        for worker in self.workers:
            worker.process.join(timeout=5)
            if worker.process.is_alive():
                worker.process.kill()

    def _spawn(self, number: int) -> Worker:
        """Worker `number` (0, 1, ...) keeps its number, and so its GPU, across replacements."""
        jobs_out, jobs_in = self._context.Pipe(duplex=False)
        messages_out, messages_in = self._context.Pipe(duplex=False)
        stop_flags = self._context.Array(ctypes.c_bool, self.cohort_max, lock=False)
        pace_control = self._context.Array(ctypes.c_double, 3)
        pace_wake = pacing.new_wake(self._context)
        device = self.device_for(number)
        process = self._context.Process(
            target=worker_main,
            args=(
                jobs_out,
                messages_in,
                stop_flags,
                self.data_dir,
                device,
                self.threads,
                pace_control,
                self.pause_timeout_s,
                pace_wake,
            ),  # fmt: skip
            name="d2l-worker",
            daemon=True,
        )
        process.start()
        jobs_out.close()
        messages_in.close()
        return Worker(number, process, jobs_in, messages_out, stop_flags, pace_control, pace_wake)

    # --- queue ------------------------------------------------------------------------------------
    def submit(self, run_id: str, raw_spec: dict, owner: str = "") -> None:
        self.submit_all([(run_id, raw_spec, owner)])

    def submit_all(self, runs: list[tuple[str, dict, str]]) -> None:
        """(run id, spec, owner) each into the line, then to the free workers: runs queued together
        that can share their minibatches start together, as one cohort."""
        for run_id, raw_spec, owner in runs:
            self.pending.push(owner, (run_id, raw_spec, cohort_signature(raw_spec)))
        self._dispatch_soon(group=len(runs) > 1)

    def _dispatch_soon(self, group: bool = False) -> None:
        """Dispatch after GATHER_S: a class pressing Train together arrives within a moment, and the runs
        that can share then start as one cohort. A group submitted as one (a race's lanes) is all here
        already: it goes to the workers at once. A run that comes to a quiet server (no other submit for
        GATHER_S, nothing waiting, a worker free) is most likely alone: it waits only QUIET_S (a learner's
        Train reaches its first step in ~60 ms), and if another run comes meanwhile, the two are the
        start of a burst (a class told "press Train now", a script) and gather for GATHER_S as usual,
        to start as one cohort instead of the first alone and the rest behind it. Runs that arrive
        while others train gather behind them."""
        now, last = self._loop.time(), self._last_submit
        self._last_submit = now
        if not self.gather_s or group:  # nothing to wait for: straight to the workers
            self._dispatch()
            return
        quiet = now - last >= self.gather_s and len(self.pending) == 1 and self.free_workers() > 0
        if quiet:
            self._gather(now, min(QUIET_S, self.gather_s), quiet=True)
        elif self._gathering is None:
            self._gather(now, self.gather_s)
        elif self._quiet_wait:  # company came: gather as long as for any burst, counted from the first
            self._gather(self._gathering_since, self._gathering_since + self.gather_s - now)

    def _gather(self, since: float, wait_s: float, quiet: bool = False) -> None:
        if self._gathering is not None:
            self._gathering.cancel()
        self._gathering_since, self._quiet_wait = since, quiet
        self._gathering = self._loop.call_later(max(wait_s, 0.0), self._dispatch_gathered)

    def _dispatch_gathered(self) -> None:
        self._gathering = None
        self._dispatch()

    def position(self, run_id: str) -> int | None:
        """1 for the next run to start; None when the run is not waiting. Runs gathering for a cohort
        that free workers will take in a moment do not count as ahead of anyone."""
        place = self.pending.position(run_id)
        return None if place is None else max(1, place - self.free_workers())

    def waiting(self) -> int:
        """Runs that wait for a worker: those gathering for free workers will start in a moment."""
        return max(0, len(self.pending) - self.free_workers())

    def free_workers(self) -> int:
        return sum(w.ready and w.alive and not w.run_ids for w in self.workers)

    def cancel(self, run_id: str) -> bool:
        """Drop a waiting run, or ask a running one to stop between two steps. The flag is raised the
        moment the job is sent, so a cancel before the worker reads the job is not lost."""
        if self.pending.remove(run_id):
            self.on_event(run_id, ended("cancelled", "cancelled_queued"))
            return True
        for worker in self.workers:
            if run_id in worker.run_ids:
                worker.stop_flags[worker.run_ids.index(run_id)] = True
                pacing.wake(worker.pace_wake)  # a paused run ends now, not at its next look
                return True
        return False

    def pace(self, run_id: str, action: str, steps_per_second: float | None = None) -> dict | str:
        """Pause, resume, step or set the speed of a running run ("look": change nothing): its state after,
        or why not: "waiting"
        (not started yet), "shared" (it trains in a cohort, which pauses for no one) or "not_running"."""
        worker = next((w for w in self.workers if run_id in w.run_ids), None)
        if worker is None:
            return "waiting" if self.pending.position(run_id) is not None else "not_running"
        if len(worker.run_ids) > 1:
            return "shared"
        if action == "speed":
            pacing.set_rate(worker.pace_control, steps_per_second)
        elif action in ("pause", "resume", "step"):
            getattr(pacing, action)(worker.pace_control)
        if action != "look":
            pacing.wake(worker.pace_wake)
        return pacing.state(worker.pace_control)

    def paused_workers(self) -> int:
        return sum(1 for w in self.workers if w.run_ids and pacing.state(w.pace_control)["paused"])

    def ready_count(self) -> int:
        return sum(worker.ready and worker.alive for worker in self.workers)

    def busy(self) -> int:
        """Runs training now (a cohort counts each of its members)."""
        return sum(len(worker.run_ids) for worker in self.workers)

    def _dispatch(self) -> None:
        for worker in self.workers:
            if not self.pending:
                return
            if worker.ready and worker.alive and not worker.run_ids:
                first = self.pending.pop()
                job = [first, *self.pending.take_sharing(first[2], self.members_at_most(first[1]) - 1)]
                worker.run_ids = [run_id for run_id, _, _ in job]
                pacing.reset(worker.pace_control)
                worker.stop_flags[:] = [False] * self.cohort_max  # the worker never resets them: a cancel
                worker.jobs.send([(run_id, raw_spec) for run_id, raw_spec, _ in job])  # from now on holds
                for run_id in worker.run_ids:
                    self.on_state(run_id, "running")

    def members_at_most(self, raw_spec: dict) -> int:
        return cohort_size_limit(raw_spec, self.cohort_max, self.max_step_work)

    # --- messages from the workers (reader thread -> loop thread) -----------------------------------
    def _read_forever(self) -> None:
        while not self._closing:
            watched = {}
            for worker in list(self.workers):
                if worker.alive:
                    watched[worker.messages] = worker
                    watched[worker.process.sentinel] = worker
            for ready in wait(list(watched), timeout=0.5):
                worker = watched[ready]
                if ready is worker.messages:
                    self._forward_messages(worker)
                elif worker.alive:
                    self._forward_messages(worker)  # whatever it sent before dying comes first
                    worker.alive = False
                    self._to_loop(self._on_death, worker)

    def _to_loop(self, callback, *args) -> None:
        """Hand work to the loop's thread. Not after close(): the loop ignores it then, and may be gone
        (a worker that exits as the pool closes used to raise 'Event loop is closed' in this thread)."""
        if self._closing:
            return
        with contextlib.suppress(RuntimeError):  # the loop closed between the check and the call
            self._loop.call_soon_threadsafe(callback, *args)

    def _forward_messages(self, worker: Worker) -> None:
        """Hand what the worker sent to the loop in batches: one wake-up of the loop per batch, not one
        per event (a fast run sends thousands a second)."""
        batch = []
        try:
            while len(batch) < BATCH_MESSAGES and worker.messages.poll():
                batch.append(worker.messages.recv())
        except (EOFError, OSError):
            pass
        if batch:  # stamped here, so the delivery metric counts the wait for a busy loop too
            self._to_loop(self._on_messages, worker, batch, time.time())

    def _on_messages(self, worker: Worker, batch: list[tuple], received: float) -> None:
        if self._closing:
            return  # runs cut off by a shutdown are recorded as interrupted, not as cancelled
        for kind, key, payload in batch:
            if kind == READY:
                worker.ready, worker.pid = True, payload
                self.start_failures = 0
            elif kind == EVENT:
                self.on_event(key, payload, received)
            elif kind == IDLE:
                worker.run_ids = []
        self._dispatch()

    def _on_death(self, worker: Worker) -> None:
        """A worker died (killed, out of memory, crashed): fail its run and put a new worker in its place."""
        if self._closing:
            return
        worker.process.join(timeout=1)  # the sentinel can fire a moment before the exit code is known
        code = worker.process.exitcode
        self.workers = [w for w in self.workers if w is not worker]
        for run_id in worker.run_ids:
            self._fail(run_id, "worker_died", exit_code=code)
        if not worker.ready:  # it could not even start: do not spin, and tell the waiting runs why
            self.start_failures += 1
            if self.start_failures >= 3:
                while self.pending:
                    self._fail(self.pending.pop()[0], "no_worker")
        delay = min(30.0, 0.5 * 2**self.start_failures) if self.start_failures else 0.0
        self._loop.call_later(delay, self._replace, worker.number)

    def _replace(self, number: int) -> None:
        if not self._closing:
            self.workers.append(self._spawn(number))

    def _fail(self, run_id: str, code: str, **params) -> None:
        self.on_event(run_id, ended("failed", code, **params))
