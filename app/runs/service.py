"""The one interface the web layer uses: submit, status, cancel, and the event log of a run."""

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from app.settings import Settings

from .endings import ended
from .log import Encoder, EventLog, Observer
from .pool import LocalPool
from .store import RunStore

FINISHED = ("done", "cancelled", "diverged", "failed", "interrupted")
MEMORY_LIMIT = 256  # finished logs kept in memory; older ones are read back from the store


class QueueFull(RuntimeError):
    """Too many runs are waiting; the message says so in words a learner can act on."""


class BackendUnavailable(RuntimeError):
    """The training backend cannot take runs now (its broker is unreachable)."""


@dataclass
class RunState:
    """What the web layer may know about a run while it lives."""

    id: str
    spec: dict
    status: str = "queued"
    log: EventLog | None = None
    epochs: list[dict] = field(default_factory=list)


class RunBook:
    """The runs this web process knows, live or read back from the store; shared by both backends."""

    def __init__(self, encode: Encoder, store: RunStore, on_delivered: Observer | None = None):
        self.encode, self.store, self.on_delivered = encode, store, on_delivered
        self.runs: dict[str, RunState] = {}

    def new_log(self) -> EventLog:
        return EventLog(self.encode, self.on_delivered)

    def from_store(self, run_id: str) -> RunState | None:
        """A finished run read back from the store, with its full event log."""
        row = self.store.get(run_id)
        if row is None:
            return None
        run = RunState(id=row.id, spec=row.spec, status=row.status, log=self.new_log())
        if row.status in FINISHED:
            for event in self.store.events(run_id) or [ended("interrupted", "server_stopped")]:
                self._record(run, event)
        return run

    def _record(self, run: RunState, event: dict, event_id: str | None = None, born: float | None = None):
        run.log.append(event, event_id, born)
        if event["type"] == "epoch":
            run.epochs.append(event)
        elif event["type"] == "started":
            run.status = "running"
        elif event["type"] == "finished":
            run.status = event["status"]

    def _remember(self, run: RunState) -> None:
        """Keep at most MEMORY_LIMIT finished runs in memory, dropping the oldest finished ones."""
        self.runs[run.id] = run
        finished = [run_id for run_id, state in self.runs.items() if state.status in FINISHED]
        for run_id in finished[: max(0, len(finished) - MEMORY_LIMIT)]:
            del self.runs[run_id]

    @staticmethod
    def queue_full(waiting: int) -> QueueFull:
        return QueueFull(
            f"{waiting} {'run is' if waiting == 1 else 'runs are'} already waiting, the most this "
            "server allows; try again in a minute"
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
        super().__init__(encode, RunStore(settings.run_store_url()), on_delivered)
        self.settings = settings
        self.pool = LocalPool(
            settings.worker_count(),
            str(settings.data_dir),
            settings.worker_device,
            settings.threads_per_worker(),
            self._on_event,
            self._on_state,
        )
        self.on_finish = on_finish

    def start(self) -> None:
        self.store.mark_interrupted()
        self.pool.start()

    def close(self) -> None:
        """Stop the workers; runs they had not finished are stored as interrupted."""
        self.pool.close()
        self.store.mark_interrupted()

    def submit(self, spec: dict) -> RunState:
        """Queue a validated spec (as a dict); raise QueueFull when the queue is at its limit."""
        if len(self.pool.pending) >= self.settings.queue_limit:
            raise self.queue_full(len(self.pool.pending))
        run = RunState(id=secrets.token_hex(6), spec=spec, log=self.new_log())
        self.runs[run.id] = run
        self.store.add(run.id, spec)
        self.pool.submit(run.id, spec)
        return run

    def cancel(self, run_id: str) -> bool:
        return self.pool.cancel(run_id)

    def position(self, run_id: str) -> int | None:
        return self.pool.position(run_id)

    def get(self, run_id: str) -> RunState | None:
        """A live run, or a finished one read back from the store (with its full event log)."""
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
        }

    def broker_ok(self) -> bool:
        return True  # no broker: the pool lives in this process

    # --- from the pool ----------------------------------------------------------------------------
    def _on_state(self, run_id: str, status: str) -> None:
        run = self.runs.get(run_id)
        if run and run.status not in FINISHED:
            run.status = status
            self.store.set_status(run_id, status)

    def _on_event(self, run_id: str, event: dict) -> None:
        run = self.runs.get(run_id)
        if run is None or run.status in FINISHED:
            return  # late words from a worker whose run already ended
        self._record(run, event)
        if event["type"] == "finished":
            self.store.finish(run_id, [entry.event for entry in run.log.entries])
            self._remember(run)
            if self.on_finish:
                self.on_finish(run_id)
