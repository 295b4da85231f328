"""The one interface the web layer uses: submit, status, cancel, and the event log of a run.

A shared server's rules live here, so the API, the pages and races share them: every run has an owner
(a visitor id), a visitor may have a few runs in flight, a run's cost must fit the budget, and a run
is finished in the store before anyone is told it finished.
"""

import asyncio
import logging
import secrets
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from app.settings import Settings
from app.training.budget import cost

from .endings import RUN_ENDINGS, ended
from .log import Encoder, EventLog, MemoryBudget, Observer
from .pool import LocalPool
from .store import CHUNK_EVENTS, RunStore, ending_columns

# A chunk also goes to the store once its events' encoded size reaches this: a run whose pictures are
# large (softmax on Fashion-MNIST: ~60 KB each) would otherwise be packed whole when it ends, and a
# cohort of 32 ending at once kept its last student waiting 1.4-1.8 s for the writer (bench/classroom.md).
CHUNK_BYTES = 64 * 1024

FINISHED = ("done", "cancelled", "diverged", "failed", "interrupted")
MEMORY_LIMIT = 256  # finished runs whose summaries stay in memory; their events are in the store
RETRY_AFTER_S = 30
log = logging.getLogger("d2l_playground.runs")


def new_id() -> str:
    """128 random bits: a run's link is its only key for viewing, so it must not be guessable."""
    return secrets.token_hex(16)


class Refused(RuntimeError):
    """A submission the server will not take now; `code` and `values` let the web say why in the
    visitor's language (the English is the message)."""

    def __init__(self, message: str, code: str = "", **values):
        super().__init__(message)
        self.code, self.values = code, values


class QueueFull(Refused):
    """Too many runs are waiting; the message says so in words a learner can act on."""


class TooManyRuns(Refused):
    """This visitor already has as many runs in flight as the server allows one visitor."""

    retry_after_s = RETRY_AFTER_S


class OverBudget(Refused):
    """The run would cost more than one run may; `problems` names each budget and what to lower."""

    def __init__(self, problems: list[tuple[str, dict]]):
        super().__init__("; ".join(BUDGET_MESSAGES[code].format(**values) for code, values in problems))
        self.problems = problems


class BackendUnavailable(Refused):
    """The training backend cannot take runs now (its broker is unreachable)."""


class StoreUnavailable(Refused):
    """The run store cannot write (a full disk, a read-only folder): no run may start that it cannot keep."""


BUDGET_MESSAGES = {
    "over_work": "this run would train for about {minutes} minutes, and one run may take at most {limit}: "
    "lower epochs, hidden units or layers, or the number of examples",
    "over_step": "one training step would take about {seconds} s, too long to stop it promptly: lower the "
    "batch size or the hidden units",
    "over_events": "this run would send {events} events, and one run may send at most {limit}: lower "
    "step_events_per_epoch or epochs",
}


@dataclass
class RunState:
    """What the web layer may know about a run while it lives (and a finished run's summary)."""

    id: str
    spec: dict
    status: str = "queued"
    log: EventLog | None = None
    epochs: list[dict] = field(default_factory=list)
    owner: str = ""
    group: str = ""  # the race it belongs to, else its own id: a race counts once against a visitor's limit
    class_code: str = ""  # the class it was started in, if any
    started: dict | None = None
    ending: dict | None = None
    queued_to_store: int = 0  # events handed to the store writer so far
    unsaved_bytes: int = 0  # encoded size of the events since then
    store_error: str = ""


class StoreWriter:
    """The store's writes for live runs, in order, on one thread: the event loop never waits for a disk."""

    def __init__(self):
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="store-writer")

    def write(self, then: Callable[[Exception | None], None], function, *args) -> None:
        """Run function(*args) on the writer thread, then `then(error or None)` on the event loop."""
        loop = asyncio.get_running_loop()
        future = self.executor.submit(function, *args)
        future.add_done_callback(lambda done: loop.call_soon_threadsafe(then, done.exception()))

    def close(self) -> None:
        self.executor.shutdown(wait=True)


class RunBook:
    """The runs this web process knows, live or read back from the store; shared by both backends."""

    def __init__(self, settings: Settings, encode: Encoder, store: RunStore, on_delivered: Observer | None):
        self.settings, self.encode, self.store, self.on_delivered = settings, encode, store, on_delivered
        self.memory = MemoryBudget(settings.event_memory_mb * 2**20)
        self.runs: dict[str, RunState] = {}
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def new_log(self, run_id: str) -> EventLog:
        return EventLog(self.encode, self.on_delivered, self._stored(run_id), self.memory)

    def _stored(self, run_id: str):
        return lambda after: self.store.chunks(run_id, after)

    async def submit(
        self, spec: dict, owner: str = "", group: str = "", is_admin: bool = False, class_code: str = ""
    ) -> RunState:
        """Queue a validated spec (as a dict) for `owner`; raise a Refused when it cannot be taken."""
        return (await self.submit_all([spec], owner, group, is_admin, class_code))[0]

    async def submit_all(
        self, specs: list[dict], owner: str, group: str = "", is_admin: bool = False, class_code: str = ""
    ) -> list[RunState]:
        """Queue every spec for `owner` (a race: one group), or none, raising the reason. The store's
        reads and writes go to a thread; the visitor's lock keeps concurrent requests from all slipping
        under the per-visitor limit while those run."""
        for spec in specs:
            self.check_budget(spec)
        lock = self._locks.setdefault(owner, asyncio.Lock())
        async with lock:
            runs = [self.new_run(spec, owner, group, class_code) for spec in specs]
            await asyncio.to_thread(self._admit, runs, is_admin)
            for run in runs:
                self.runs[run.id] = run
            await self.enqueue_all(runs)
        return runs

    def new_run(self, spec: dict, owner: str, group: str, class_code: str = "") -> RunState:
        run_id = new_id()
        return RunState(id=run_id, spec=spec, owner=owner, group=group or run_id, class_code=class_code)

    def check_budget(self, spec: dict) -> None:
        problems = cost(spec).over(
            self.settings.max_run_work, self.settings.max_step_work, self.settings.max_run_events
        )
        if problems:
            raise OverBudget(problems)

    def _admit(self, runs: list[RunState], is_admin: bool) -> None:
        """In a thread: the visitor's runs in flight (counted in the store, so every replica of a
        scaled-out server counts the same), room in the queue, then the runs into the store."""
        owner, group, limit = runs[0].owner, runs[0].group, self.settings.max_runs_per_visitor
        groups = set() if is_admin else self.store.groups_in_flight(owner)
        if group not in groups and len(groups) >= limit:
            raise TooManyRuns(
                f"you already have {len(groups)} runs queued or running, the most one visitor may have; "
                "cancel one or wait until one ends",
                "too_many_runs",
                limit=limit,
            )
        self.check_room(len(runs))
        for run in runs:
            self.add_to_store(run)

    def check_room(self, needed: int) -> None:
        """Raise QueueFull (or BackendUnavailable) when the queue cannot take `needed` more runs."""
        raise NotImplementedError

    async def enqueue(self, run: RunState) -> None:
        raise NotImplementedError

    async def enqueue_all(self, runs: list[RunState]) -> None:
        """A race's runs, queued together."""
        for run in runs:
            await self.enqueue(run)

    def room_refused(self, waiting: int, needed: int) -> QueueFull:
        if needed == 1:
            return self.queue_full(waiting)
        free = max(self.settings.queue_limit - waiting, 0)
        return QueueFull(
            f"a race needs {needed} places in the queue and {free} are free; try later",
            "race_room",
            needed=needed,
            free=free,
        )

    def add_to_store(self, run: RunState) -> None:
        try:
            self.store.add(run.id, run.spec, run.owner, run.group, run.class_code)
        except Exception as error:  # any driver's write error: the run cannot be kept, so it cannot start
            log.error("run store cannot write: %s", error)
            raise StoreUnavailable(
                "the server cannot save runs right now (its disk may be full or read-only); "
                "try again later, or tell whoever runs it",
                "store_unavailable",
            ) from None

    def from_store(self, run_id: str) -> RunState | None:
        """A run read back from the store: its summary, and a log that reads its events from there."""
        row = self.store.get(run_id)
        if row is None:
            return None
        run = RunState(
            id=row.id,
            spec=row.spec,
            status=row.status,
            owner=row.owner or "",
            group=row.id,
            class_code=row.class_code or "",
            epochs=list(row.epochs or []),
            ending=row.ending or None,
        )
        if row.status not in FINISHED:
            run.log = self.new_log(run_id)
        elif row.ending:
            run.log = EventLog.stored_only(self.encode, row.event_count, self._stored(run_id))
        elif row.legacy_events:  # stored whole, before events moved to chunks
            run.log = EventLog(self.encode, self.on_delivered)
            for event in self.store.events(run_id):
                self._record(run, event)
        else:  # cut off by a stop: the chunks it had stored, then how it ended (in memory only)
            count = self.store.last_seq(run_id)
            run.log = EventLog.after_stored(self.encode, count, self._stored(run_id), self.on_delivered)
            self._record(run, ended("interrupted", "server_stopped"))
        return run

    def _record(self, run: RunState, event: dict, event_id: str | None = None, born: float | None = None):
        run.unsaved_bytes += len(run.log.append(event, event_id, born).encoded)
        if event["type"] == "epoch":
            run.epochs.append(event)
        elif event["type"] == "started":
            run.status, run.started = "running", event
        elif event["type"] == "finished":
            run.status, run.ending = event["status"], event

    def _remember(self, run: RunState) -> None:
        """Keep at most MEMORY_LIMIT finished runs in memory, dropping the oldest finished ones."""
        self.runs[run.id] = run
        finished = [run_id for run_id, state in self.runs.items() if state.status in FINISHED]
        for run_id in finished[: max(0, len(finished) - MEMORY_LIMIT)]:
            del self.runs[run_id]

    def mark_interrupted(self) -> None:
        """Runs left queued or running by a stop are over; a store that cannot write says so in /readyz."""
        try:
            self.store.mark_interrupted()
        except Exception as error:  # any driver's write error: serve what can be read, refuse new runs
            log.error("run store cannot write: %s", error)

    def memory_health(self) -> dict:
        return {"event_memory_mb": round(self.memory.used / 2**20, 1)}

    @staticmethod
    def queue_full(waiting: int) -> QueueFull:
        return QueueFull(
            f"{waiting} {'run is' if waiting == 1 else 'runs are'} already waiting, the most this "
            "server allows; try again in a minute",
            "queue_full",
            waiting=waiting,
        )


class RunService(RunBook):
    """The embedded backend: the local pool of worker processes, events relayed in memory."""

    def __init__(
        self,
        settings: Settings,
        encode: Encoder,
        on_finish: Callable[[str], None] | None = None,
        on_delivered: Observer | None = None,
    ):
        super().__init__(settings, encode, RunStore(settings.run_store_url()), on_delivered)
        self.pool = LocalPool(
            settings.worker_count(),
            str(settings.data_dir),
            settings.worker_device,
            settings.threads_per_worker(),
            self._on_event,
            self._on_state,
            settings.cohort_max,
            settings.max_step_work,
            settings.pause_timeout_s,
        )
        self.writer = StoreWriter()
        self.on_finish = on_finish

    def start(self) -> None:
        self.mark_interrupted()
        self.pool.start()

    def close(self) -> None:
        """Stop the workers; runs they had not finished are stored as interrupted."""
        self.pool.close()
        self.writer.close()
        self.mark_interrupted()

    def check_room(self, needed: int) -> None:
        waiting = self.pool.waiting()
        if waiting + needed > self.settings.queue_limit:
            raise self.room_refused(waiting, needed)

    async def enqueue(self, run: RunState) -> None:
        await self.enqueue_all([run])

    async def enqueue_all(self, runs: list[RunState]) -> None:
        """All in line before a worker looks, so a race's lanes that can share start as one cohort."""
        for run in runs:
            run.log = self.new_log(run.id)
        self.pool.submit_all([(run.id, run.spec, run.owner) for run in runs])

    def cancel(self, run_id: str) -> bool:
        return self.pool.cancel(run_id)

    def position(self, run_id: str) -> int | None:
        return self.pool.position(run_id)

    def pace(self, run_id: str, action: str, steps_per_second: float | None = None) -> dict | str:
        """pause, resume, step or speed: the run's pacing after it, or why not (pool.pace)."""
        return self.pool.pace(run_id, action, steps_per_second)

    def paused_workers(self) -> int:
        """Workers held by a paused run: the queue view says so, as they make everyone wait longer."""
        return self.pool.paused_workers()

    def get(self, run_id: str) -> RunState | None:
        """A live run, or a finished one read back from the store."""
        if run_id in self.runs:
            return self.runs[run_id]
        run = self.from_store(run_id)
        if run is not None:
            self._remember(run)
        return run

    def counts(self) -> dict[str, int]:
        return {"queued": len(self.pool.pending), "running": self.pool.busy()}

    def health(self) -> dict:
        return {
            "backend": "local",
            "workers": len(self.pool.workers),
            "workers_ready": self.pool.ready_count(),
            **self.counts(),
            **self.memory_health(),
        }

    def broker_ok(self) -> bool:
        return True  # no broker: the pool lives in this process

    # --- from the pool ----------------------------------------------------------------------------
    def _on_state(self, run_id: str, status: str) -> None:
        run = self.runs.get(run_id)
        if run and run.status not in FINISHED:
            run.status = status
            self.writer.write(self._failed_if(run), self.store.set_status, run_id, status)

    def _on_event(self, run_id: str, event: dict, received: float | None = None) -> None:
        run = self.runs.get(run_id)
        if run is None or run.status in FINISHED or run.ending:
            return  # late words from a worker whose run already ended
        if event["type"] == "finished":
            self._finish(run, event)
            return
        self._record(run, event, born=received)
        if run.log.count - run.queued_to_store >= CHUNK_EVENTS or run.unsaved_bytes >= CHUNK_BYTES:
            self._save(run)

    def _save(self, run: RunState) -> None:
        """Hand the events not yet given to the store to the writer, as one chunk."""
        events = [entry.event for entry in run.log.after(run.queued_to_store)]
        first, last = run.queued_to_store + 1, run.log.count
        run.queued_to_store, run.unsaved_bytes = last, 0

        def saved(error: Exception | None) -> None:
            if error is None:
                run.log.mark_saved(last)
            else:
                self._store_failed(run, error)

        self.writer.write(saved, self.store.append, run.id, first, events)

    def _failed_if(self, run: RunState) -> Callable[[Exception | None], None]:
        """The writer's callback for a write that only matters when it fails."""

        def check(error: Exception | None) -> None:
            if error is not None:
                self._store_failed(run, error)

        return check

    def _store_failed(self, run: RunState, error: Exception) -> None:
        """The store lost a write: the run cannot be kept whole, so stop it; it will end `failed`."""
        log.error("run %s: the store could not write (%s)", run.id, error)
        run.store_error = run.store_error or f"{type(error).__name__}: {error}"
        self.pool.cancel(run.id)

    def _finish(self, run: RunState, finished: dict) -> None:
        """Store the rest of the log and the summary, and only then tell the viewers how the run ended."""
        if finished.get("code") in RUN_ENDINGS:  # ended outside the trainer: count what it did train
            finished = {**finished, "epochs_done": len(run.epochs)}
        if run.store_error:
            finished = ended("failed", "store_failed", error=run.store_error)
        run.ending = finished  # no more events from now on
        events = [entry.event for entry in run.log.after(run.queued_to_store)] + [finished]
        first = run.queued_to_store + 1
        dataset = (run.started or {}).get("dataset", "")
        columns = ending_columns(finished, dataset, run.epochs, run.log.count + 1)

        def stored(error: Exception | None) -> None:
            final = finished
            if error is not None:
                log.error("run %s: the store could not keep its end (%s)", run.id, error)
                final = ended("failed", "store_failed", error=f"{type(error).__name__}: {error}")
            self._record(run, final)
            if error is None:
                run.log.mark_saved(run.log.count)
                run.log.release()
            self._remember(run)
            if self.on_finish:
                self.on_finish(run.id)

        run.queued_to_store = run.log.count + 1
        self.writer.write(stored, self.store.close, run.id, first, events, columns)


def events_of(run: RunState, store: RunStore) -> Iterator[dict]:
    """Every event of a run, stored chunks first and then what memory holds, one chunk at a time.
    Memory's part is copied now (on the event loop); iterate in a thread, never on the loop."""
    base, tail = run.log.base, [entry.event for entry in run.log.entries]
    if base:
        for chunk in store.chunks(run.id):
            yield from (event for seq, event in chunk if seq <= base)
            if chunk and chunk[-1][0] >= base:
                break
    yield from tail
