"""Writing a run's events to its Redis Stream, and ending a run exactly once, from any process."""

import orjson
import redis

from app.runs.store import RunStore

from . import keys


def publish(client: redis.Redis, run_id: str, event: dict, maxlen: int) -> None:
    """XADD one event (on a client or a pipeline); the stream id Redis gives it is the event's SSE id."""
    client.xadd(keys.stream(run_id), {keys.FIELD: orjson.dumps(event)}, maxlen=maxlen)


def event_of(fields: dict) -> dict:
    """The event a stream entry holds (the inverse of publish)."""
    return orjson.loads(fields[keys.FIELD.encode()])


def read_events(client: redis.Redis, run_id: str) -> list[dict]:
    return [event_of(fields) for _, fields in client.xrange(keys.stream(run_id))]


def claim_end(client: redis.Redis, run_id: str) -> bool:
    """True for the one caller allowed to write this run's finished event."""
    return bool(client.set(keys.ended(run_id), 1, nx=True, ex=keys.KEEP_S))


def end_run(client: redis.Redis, store: RunStore, run_id: str, finished: dict, maxlen: int) -> bool:
    """Finish a run from outside its trainer (cancelled while queued, worker lost) with `finished` (an
    endings.ended event): store, then stream."""
    if not claim_end(client, run_id):
        return False
    finish(client, store, run_id, read_events(client, run_id) + [finished], maxlen)
    return True


def finish(client: redis.Redis, store: RunStore, run_id: str, events: list[dict], maxlen: int) -> None:
    """Store the whole log first, then publish the finished event: whoever sees the run end on a stream
    finds it in the run history too. Redis forgets the run after KEEP_S."""
    store.finish(run_id, events)
    pipe = client.pipeline()
    publish(pipe, run_id, events[-1], maxlen)
    pipe.srem(keys.RUNNING, run_id)
    pipe.zrem(keys.QUEUED, run_id)
    for key in (keys.stream(run_id), keys.owner(run_id), keys.cancel(run_id)):
        pipe.expire(key, keys.KEEP_S)
    pipe.execute()
