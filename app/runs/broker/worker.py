"""`d2l-playground worker`: a Celery worker that trains runs from the broker, one at a time.

It uses Celery's solo pool: the worker process is the training process, so nothing forks after torch
is imported and CUDA is safe. Scale by starting more workers (`docker compose up --scale worker=N`).
"""

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
from .celery_app import TASK_NAME, make_celery
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


def train_run(run_id: str, raw_spec: dict, settings: Settings, client: redis.Redis, store: RunStore) -> str:
    """The task body: train, publish every event, and leave the run's record in the store."""
    from app.training.specs import parse_spec
    from app.training.trainer import train

    heartbeat = claim(client, run_id, settings.heartbeat_timeout_s)
    if heartbeat is None:
        log.info("run %s was already taken or cancelled; skipping this delivery", run_id)
        return "skipped"
    store.set_status(run_id, "running")
    events = []
    publisher = Publisher(client, run_id, settings.stream_maxlen)
    publisher.start()
    try:
        stop = CancelFlag(client, run_id)
        for event in train(
            parse_spec(raw_spec), data_dir=settings.data_dir, device=settings.device, should_stop=stop
        ):
            data = event.model_dump(mode="json")
            events.append(data)
            if data["type"] != "finished":
                publisher.events.put(data)
            elif claim_end(client, run_id):
                publisher.flush()  # every earlier event is in the stream before the record and `finished`
                finish(client, store, run_id, events, settings.stream_maxlen)
            else:
                return "ended elsewhere"  # the watchdog already declared this run lost
    finally:
        if publisher.is_alive():
            publisher.events.put(None)
        heartbeat.stop()
    return events[-1]["status"]


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
