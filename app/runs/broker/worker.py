"""`d2l-playground worker`: a Celery worker that trains runs from the broker, one task at a time: a run,
or a cohort of runs that share their minibatches (a race's lanes), trained as one batched model.

It uses Celery's solo pool: the worker process is the training process, so nothing forks after torch
is imported and CUDA is safe. Scale by starting more workers (`docker compose up --scale worker=N`).
"""

import json
import logging
import os
import queue
import socket
import threading
import time

import redis

from app.runs.store import RunStore
from app.settings import Settings

from . import keys
from .celery_app import COHORT_TASK_NAME, TASK_NAME, make_celery
from .streams import claim_end, finish, publish

log = logging.getLogger("d2l_playground.worker")
CANCEL_CHECK_S = 0.1  # the cancel flag is read at most this often, not at every step


class Heartbeat(threading.Thread):
    """Keeps keys.alive(run) fresh while the run trains; stops with the run or dies with the process."""

    def __init__(self, client: redis.Redis, run_id: str, timeout_s: float):
        super().__init__(name=f"heartbeat-{run_id}", daemon=True)
        self.client, self.key, self.timeout_s = client, keys.alive(run_id), timeout_s
        self.stopped = threading.Event()

    def beat(self) -> None:
        self.client.set(self.key, os.getpid(), px=int(self.timeout_s * 1000))

    def run(self) -> None:
        while not self.stopped.wait(self.timeout_s / 3):
            self.beat()

    def stop(self) -> None:
        self.stopped.set()
        self.client.delete(self.key)


class Publisher(threading.Thread):
    """XADDs a run's events in order from a thread of its own, pipelining whatever piled up, so the
    training loop never waits for a Redis round trip (bench/scale.py measured 0.5-9 ms each)."""

    def __init__(self, client: redis.Redis, run_id: str, maxlen: int):
        super().__init__(name=f"publisher-{run_id}", daemon=True)
        self.client, self.run_id, self.maxlen = client, run_id, maxlen
        self.events: queue.SimpleQueue = queue.SimpleQueue()
        self.error: Exception | None = None

    def run(self) -> None:
        finished = False
        while not finished:
            batch = [self.events.get()]  # wait for one, then take whatever else is waiting
            while not self.events.empty():
                batch.append(self.events.get())
            finished = None in batch  # flush() puts None last
            try:
                pipe = self.client.pipeline(transaction=False)
                for event in batch[: batch.index(None) if finished else None]:
                    publish(pipe, self.run_id, event, self.maxlen)
                pipe.execute()
            except redis.RedisError as error:
                self.error = error  # the run fails; its heartbeat stops and the watchdog ends it
                return

    def flush(self) -> None:
        """Wait until every event given so far is in the stream."""
        self.events.put(None)
        self.join()
        if self.error:
            raise self.error


class CancelFlag:
    """The trainer's should_stop: true once someone set keys.cancel(run), on any machine."""

    def __init__(self, client: redis.Redis, run_id: str):
        self.client, self.key = client, keys.cancel(run_id)
        self.checked_at, self.set = 0.0, False

    def __call__(self) -> bool:
        now = time.monotonic()
        if not self.set and now - self.checked_at >= CANCEL_CHECK_S:
            self.checked_at, self.set = now, bool(self.client.exists(self.key))
        return self.set


def claim(client: redis.Redis, run_id: str, timeout_s: float) -> Heartbeat | None:
    """Take the run (once ever), start its heartbeat and mark it running; None if it is not ours."""
    if not client.set(keys.owner(run_id), f"{socket.gethostname()}:{os.getpid()}", nx=True, ex=keys.KEEP_S):
        return None
    heartbeat = Heartbeat(client, run_id, timeout_s)
    heartbeat.beat()
    client.pipeline().zrem(keys.QUEUED, run_id).sadd(keys.RUNNING, run_id).execute()
    heartbeat.start()
    return heartbeat


class MemberRun:
    """One run this task trains: claimed (taken once, with a heartbeat), its events published in order
    from a thread, its cancel flag, and its record written when it ends."""

    def __init__(self, run_id: str, settings: Settings, client: redis.Redis, store: RunStore):
        self.run_id, self.settings, self.client, self.store = run_id, settings, client, store
        self.heartbeat = claim(client, run_id, settings.heartbeat_timeout_s)
        self.events: list[dict] = []
        self.outcome = "skipped" if self.heartbeat is None else ""
        if self.heartbeat is None:
            log.info("run %s was already taken or cancelled; skipping this delivery", run_id)
            return
        store.set_status(run_id, "running")
        self.publisher = Publisher(client, run_id, settings.stream_maxlen)
        self.publisher.start()
        self.should_stop = CancelFlag(client, run_id)

    def take(self, event) -> None:
        """One event of the run: published, or, for `finished`, stored with the whole log first."""
        data = event.model_dump(mode="json")
        self.events.append(data)
        if data["type"] != "finished":
            self.publisher.events.put(data)
            return
        if claim_end(self.client, self.run_id):
            self.publisher.flush()  # every earlier event is in the stream before the record and `finished`
            finish(self.client, self.store, self.run_id, self.events, self.settings.stream_maxlen)
            self.outcome = data["status"]
        else:
            self.outcome = "ended elsewhere"  # the watchdog already declared this run lost
        self.close()

    def close(self) -> None:
        if self.heartbeat is None:
            return
        if self.publisher.is_alive():
            self.publisher.events.put(None)
        self.heartbeat.stop()


def train_run(run_id: str, raw_spec: dict, settings: Settings, client: redis.Redis, store: RunStore) -> str:
    """The task body: take the run, and with it the waiting runs that can share its minibatches (their
    own tasks will find them taken), train them, publish every event, leave each run's record."""
    run = MemberRun(run_id, settings, client, store)
    if run.heartbeat is None:
        return run.outcome
    joined = join_waiting(run_id, raw_spec, settings, client, store)
    train_claimed([(run, raw_spec), *joined], settings)
    return run.outcome


def train_cohort_run(
    members: list[list], settings: Settings, client: redis.Redis, store: RunStore
) -> list[str]:
    """The cohort task's body (a race's lanes that share): the members still waiting (one cancelled or
    taken meanwhile is skipped) trained as one batched model, each member's events its own."""
    runs = [(MemberRun(run_id, settings, client, store), raw_spec) for run_id, raw_spec in members]
    train_claimed([(run, raw_spec) for run, raw_spec in runs if run.heartbeat], settings)
    return [run.outcome for run, _ in runs]


def train_claimed(claimed: list[tuple[MemberRun, dict]], settings: Settings) -> None:
    """Train runs this worker has claimed: one through the trainer the playground shows, several as one
    cohort; each run's events go to its own stream and record."""
    from app.training.cohort import train_cohort
    from app.training.specs import parse_spec
    from app.training.trainer import train

    runs = [run for run, _ in claimed]
    specs = [parse_spec(raw_spec) for _, raw_spec in claimed]
    where = {"data_dir": settings.data_dir, "device": settings.device}
    try:
        if len(runs) == 1:
            tagged = ((0, event) for event in train(specs[0], should_stop=runs[0].should_stop, **where))
        else:
            tagged = train_cohort(specs, should_stop=lambda member: runs[member].should_stop(), **where)
        for member, event in tagged:
            runs[member].take(event)
    finally:
        for run in runs:
            run.close()


def join_waiting(
    run_id: str, raw_spec: dict, settings: Settings, client: redis.Redis, store: RunStore
) -> list[tuple[MemberRun, dict]]:
    """The waiting runs that share this run's cohort signature (the web lists them in keys.sharing),
    oldest first, claimed for this task: up to PLAYGROUND_COHORT_MAX in all. Each claim is the same
    SET NX a run's own task makes, so a run is trained once whoever takes it."""
    from app.runs.pool import cohort_signature, cohort_size_limit

    signature = cohort_signature(raw_spec)
    if signature is None:
        return []
    key = keys.sharing(signature)
    client.hdel(key, run_id)
    waiting = {other.decode(): json.loads(spec) for other, spec in client.hgetall(key).items()}
    order = sorted(waiting, key=lambda other: client.zscore(keys.QUEUED, other) or float("inf"))
    joined = []
    at_most = cohort_size_limit(raw_spec, settings.cohort_max, settings.max_step_work)
    for other in order[: at_most - 1]:
        client.hdel(key, other)
        run = MemberRun(other, settings, client, store)
        if run.heartbeat is not None:
            joined.append((run, waiting[other]))
    return joined


def run_worker(settings: Settings, queues: list[str], name: str | None = None) -> None:
    import torch

    from app.runs.worker import warm_up

    # Below the web process in priority, as the embedded pool's workers are: where a replica shares the
    # cores, its event loop keeps streaming while training takes every idle cycle.
    os.nice(10)
    torch.set_num_threads(settings.threads_per_worker())
    warm_up()
    client = redis.Redis.from_url(settings.broker_url)
    store = RunStore(settings.run_store_url())
    app = make_celery(settings)

    @app.task(name=TASK_NAME)
    def train_task(run_id: str, raw_spec: dict) -> str:
        return train_run(run_id, raw_spec, settings, client, store)

    @app.task(name=COHORT_TASK_NAME)
    def train_cohort_task(members: list[list]) -> list[str]:
        return train_cohort_run(members, settings, client, store)

    hostname = name or f"worker-{os.getpid()}@{socket.gethostname()}"
    app.worker_main(
        [
            "worker",
            "--pool=solo",
            f"--queues={','.join(queues)}",
            f"--hostname={hostname}",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
    )
