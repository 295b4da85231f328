"""The web side of the broker backend: publish runs as Celery tasks, mirror their Redis Streams.

Each web replica keeps, per run that someone is watching, one reader task that XREADs the run's
stream into an EventLog; viewers follow that log, so an event is read from Redis and encoded once per
replica, whatever the number of viewers. The stream id is the SSE id, so a viewer may reconnect to
any replica with Last-Event-ID. A watchdog (in every replica; ending a run is claimed with SET NX, so
only one acts) ends runs whose worker stopped sending its heartbeat.
"""

import asyncio
import contextlib
import json
import logging

import redis
import redis.asyncio as aioredis

from app.runs.endings import ended
from app.runs.log import Encoder, EventLog, Observer
from app.runs.pool import cohort_signature
from app.runs.service import FINISHED, BackendUnavailable, RunBook, RunState
from app.runs.store import RunStore
from app.settings import Settings

from . import keys
from .celery_app import COHORT_TASK_NAME, TASK_NAME, make_celery, queue_for
from .streams import end_run, event_of

log = logging.getLogger("d2l_playground.broker")
READ_BLOCK_MS = 5000
WATCH_EVERY_S = 1.0


class BrokerRunService(RunBook):
    def __init__(self, settings: Settings, encode: Encoder, on_delivered: Observer | None = None):
        super().__init__(settings, encode, RunStore(settings.run_store_url()), on_delivered)
        self.client = redis.Redis.from_url(settings.broker_url)
        self.reader = aioredis.Redis.from_url(settings.broker_url)
        self.celery = make_celery(settings)
        self.tasks: set[asyncio.Task] = set()

    # --- life cycle -------------------------------------------------------------------------------
    def start(self) -> None:
        self._spawn(self._watch_heartbeats())

    def close(self) -> None:
        for task in self.tasks:
            task.cancel()

    def _spawn(self, coroutine) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    # --- what the web layer calls -----------------------------------------------------------------
    def check_room(self, needed: int) -> None:
        try:
            waiting = self.client.zcard(keys.QUEUED)
        except redis.RedisError as error:
            raise BackendUnavailable(
                f"the training queue (broker) cannot be reached ({error}); try again in a minute"
            ) from None
        if waiting + needed > self.settings.queue_limit:
            raise self.room_refused(waiting, needed)

    async def enqueue(self, run: RunState) -> None:
        await self.enqueue_all([run])

    async def enqueue_all(self, runs: list[RunState]) -> None:
        """Runs queued together (a race) that can share their minibatches go as one cohort task."""
        for run in runs:
            run.log = self.new_log_in_memory()
        for group in sharing_groups(runs, self.settings.cohort_max):
            await asyncio.to_thread(self._publish, group)
        for run in runs:
            self._follow(run)

    def _publish(self, group: list[RunState]) -> None:
        for run in group:
            self.client.zadd(keys.QUEUED, {run.id: self.client.incr(keys.ORDER)})
        queue = queue_for(group[0].spec, self.settings)
        if len(group) == 1:
            run, signature = group[0], cohort_signature(group[0].spec)
            if signature is not None:  # a worker starting a run that shares with it takes it along
                sharing = keys.sharing(signature)
                self.client.pipeline().hset(sharing, run.id, json.dumps(run.spec)).expire(
                    sharing, keys.KEEP_S
                ).execute()
            self.celery.send_task(TASK_NAME, args=[run.id, run.spec], queue=queue)
        else:
            members = [[run.id, run.spec] for run in group]
            self.celery.send_task(COHORT_TASK_NAME, args=[members], queue=queue)

    def cancel(self, run_id: str) -> bool:
        """Raise the flag the trainer checks; a run no worker has taken yet ends here and now."""
        self.client.set(keys.cancel(run_id), 1, ex=keys.KEEP_S)
        if self.client.set(keys.owner(run_id), "cancelled", nx=True, ex=keys.KEEP_S):
            end_run(self.client, self.store, run_id, ended("cancelled", "cancelled_queued"), self.maxlen)
        return True

    def pace(self, run_id: str, action: str, steps_per_second: float | None = None) -> dict | str:
        """Pause and step need the worker's shared memory: only the embedded pool has them."""
        return "broker"

    def position(self, run_id: str) -> int | None:
        try:
            rank = self.client.zrank(keys.QUEUED, run_id)
        except redis.RedisError:
            return None
        return None if rank is None else rank + 1

    def new_log_in_memory(self) -> EventLog:
        """A mirror of a Redis stream: its ids are the stream's, so it keeps its entries (the stream's
        length is capped by PLAYGROUND_STREAM_MAXLEN, and a run's events by the event budget)."""
        return EventLog(self.encode, self.on_delivered)

    def get(self, run_id: str) -> RunState | None:
        """A run this replica mirrors, or one it starts mirroring now (from its stream or the store).
        With Redis down, what the store alone holds (finished runs, and how far the others got)."""
        if run_id in self.runs:
            return self.runs[run_id]
        try:
            streaming = self.client.exists(keys.stream(run_id))
        except redis.RedisError:
            return self.from_store(run_id)
        if streaming:
            row = self.store.get(run_id)
            if row is None:
                return None
            run = RunState(
                id=row.id,
                spec=row.spec,
                status=row.status,
                owner=row.owner or "",
                log=self.new_log_in_memory(),
            )
            self._follow(run)
            return run
        run = self.from_store(run_id)
        if run is not None and run.status not in FINISHED:
            self._follow(run)  # queued: its stream does not exist yet
        elif run is not None:
            self._remember(run)
        return run

    def counts(self) -> dict[str, int]:
        pipe = self.client.pipeline()
        queued, running = pipe.zcard(keys.QUEUED).scard(keys.RUNNING).execute()
        return {"queued": queued, "running": running}

    def health(self) -> dict:
        """Alive even when Redis is not: /healthz says so, /readyz answers 503."""
        try:
            return {"backend": "broker", "broker": "ok", **self.counts()}
        except redis.RedisError as error:
            return {"backend": "broker", "broker": f"unreachable: {error}"}

    def broker_ok(self) -> bool:
        try:
            return bool(self.client.ping())
        except redis.RedisError:
            return False

    @property
    def maxlen(self) -> int:
        return self.settings.stream_maxlen

    # --- mirroring a stream -----------------------------------------------------------------------
    def _follow(self, run: RunState) -> None:
        self.runs[run.id] = run
        self._spawn(self._relay(run))

    async def _relay(self, run: RunState) -> None:
        """XREAD the run's stream into its log until the finished event, then keep it as finished."""
        last_id, stream = "0-0", keys.stream(run.id)
        while not run.log.closed:
            try:
                reply = await self.reader.xread({stream: last_id}, count=1000, block=READ_BLOCK_MS)
            except redis.RedisError as error:
                log.warning("reading %s failed (%s); retrying", stream, error)
                await asyncio.sleep(1)
                continue
            for _, entries in reply or []:
                for entry_id, fields in entries:
                    last_id = entry_id.decode()
                    born = int(last_id.split("-")[0]) / 1000
                    self._record(run, event_of(fields), last_id, born)
        self._remember(run)

    # --- the watchdog -----------------------------------------------------------------------------
    async def _watch_heartbeats(self) -> None:
        while True:
            with contextlib.suppress(redis.RedisError):
                await asyncio.to_thread(self.end_lost_runs)
            await asyncio.sleep(WATCH_EVERY_S)

    def end_lost_runs(self) -> list[str]:
        """Runs a worker claimed but no longer keeps alive: its process or machine is gone."""
        lost = []
        for member in self.client.smembers(keys.RUNNING):
            run_id = member.decode()
            if self.client.exists(keys.alive(run_id)):
                continue
            finished = ended("failed", "worker_lost", seconds=f"{self.settings.heartbeat_timeout_s:g}")
            if end_run(self.client, self.store, run_id, finished, self.maxlen):
                log.warning("run %s: %s", run_id, finished["message"])
                lost.append(run_id)
            self.client.srem(keys.RUNNING, run_id)
        return lost


def sharing_groups(runs: list[RunState], most: int) -> list[list[RunState]]:
    """The runs in groups that may train as one cohort (one cohort signature, at most `most` each), in
    the order of their first run; a run that trains alone is a group of one."""
    groups: list[list[RunState]] = []
    open_group: dict[tuple, list[RunState]] = {}  # signature -> its group still taking members
    for run in runs:
        signature = cohort_signature(run.spec)
        group = open_group.get(signature) if signature is not None else None
        if group is None or len(group) == most:
            group = []
            groups.append(group)
            if signature is not None:
                open_group[signature] = group
        group.append(run)
    return groups
