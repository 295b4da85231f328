"""The event log: numbered entries, encoded once, followed by many viewers, resumable."""

import asyncio

from app.runs.log import EventLog

ENCODE_CALLS = []


def encode(seq, event):
    ENCODE_CALLS.append(seq)
    return f"{seq}:{event['type']}".encode()


async def collect(log, after=0, after_id=None):
    """Everything a viewer received, as one byte string (a late viewer gets its backlog in one chunk)."""
    return b"".join([chunk async for chunk in log.follow(after, after_id)])


def test_viewers_get_every_entry_in_order_and_resume_after_an_id():
    async def scenario():
        log = EventLog(encode)
        viewers = [asyncio.create_task(collect(log)) for _ in range(50)]
        late = asyncio.create_task(collect(log, after=2))
        for kind in ["started", "step", "step", "epoch"]:
            log.append({"type": kind})
            await asyncio.sleep(0)
        log.append({"type": "finished"})
        return await asyncio.gather(*viewers), await late

    ENCODE_CALLS.clear()
    viewers, late = asyncio.run(scenario())
    expected = [b"1:started", b"2:step", b"3:step", b"4:epoch", b"5:finished"]
    assert all(seen == b"".join(expected) for seen in viewers)
    assert late == b"".join(expected[2:])
    assert ENCODE_CALLS == ["1", "2", "3", "4", "5"]  # once per event, not once per viewer


def test_a_finished_log_replays_and_closes():
    async def scenario():
        log = EventLog(encode)
        for kind in ["started", "epoch", "finished"]:
            log.append({"type": kind})
        return await asyncio.wait_for(collect(log), 1), await asyncio.wait_for(collect(log, after=3), 1)

    replay, nothing = asyncio.run(scenario())
    assert replay == b"1:started2:epoch3:finished" and nothing == b""


def test_a_departed_viewer_leaves_nothing_running():
    async def scenario():
        log = EventLog(encode)
        log.append({"type": "started"})
        stream = log.follow()
        assert await anext(stream) == b"1:started"
        waiting = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0.01)
        waiting.cancel()  # what the server does when the client goes away
        await asyncio.sleep(0)
        return waiting.cancelled()

    assert asyncio.run(scenario())


def test_events_that_arrive_while_a_viewer_is_writing_are_not_lost():
    """The last events can land while a viewer's previous write is in flight; it must still get them."""

    async def scenario():
        log = EventLog(encode)
        log.append({"type": "started"})
        stream = log.follow()
        received = [await anext(stream)]  # the viewer is now suspended in its write
        log.append({"type": "epoch"})
        log.append({"type": "finished"})  # the log closes before the viewer looks again
        received += [chunk async for chunk in stream]
        return b"".join(received)

    assert asyncio.run(scenario()) == b"1:started2:epoch3:finished"


def test_redis_stream_ids_resume_in_order():
    """Broker runs use the Redis stream id as the SSE id; Last-Event-ID finds its place among them."""

    async def scenario():
        log = EventLog(encode)
        for event_id, kind in [
            ("1700000000999-0", "started"),
            ("1700000001000-0", "step"),
            ("1700000001000-1", "step"),
            ("1700000002000-0", "finished"),
        ]:
            log.append({"type": kind}, event_id=event_id)
        resumed = log.position_after("1700000001000-0")
        return resumed, await collect(log, resumed), log.position_after("garbage")

    resumed, rest, garbage = asyncio.run(scenario())
    assert resumed == 2 and rest == b"1700000001000-1:step1700000002000-0:finished"
    assert garbage == 0  # an unreadable id replays everything rather than skipping events


def test_resuming_after_an_id_the_log_does_not_hold_yet_waits_for_it():
    """A replica still catching up on a broker stream must not resend what the viewer already has."""

    async def scenario():
        log = EventLog(encode)
        log.append({"type": "started"}, event_id="5-0")
        viewer = asyncio.create_task(collect(log, after_id="7-0"))  # the viewer saw up to 7-0 elsewhere
        await asyncio.sleep(0)
        for event_id, kind in [("6-0", "step"), ("7-0", "step"), ("8-0", "epoch"), ("9-0", "finished")]:
            log.append({"type": kind}, event_id=event_id)
            await asyncio.sleep(0)
        return await asyncio.wait_for(viewer, 1)

    assert asyncio.run(scenario()) == b"8-0:epoch9-0:finished"


def test_a_long_log_keeps_only_its_tail_in_memory_and_replays_the_rest_from_the_store(tmp_path):
    """Saved entries leave memory; a late viewer and a reconnecting one still get every event once."""
    from app.runs.log import KEEP_IN_MEMORY, MemoryBudget
    from app.runs.store import RunStore

    store = RunStore(f"sqlite:///{tmp_path / 'runs.sqlite3'}")
    store.add("r", {"model": "linreg"})
    budget = MemoryBudget(float("inf"))

    async def scenario():
        log = EventLog(encode, stored=lambda after: store.chunks("r", after), budget=budget)
        for start in range(0, 3000, 500):
            for i in range(start, start + 500):
                log.append({"type": "step", "i": i})
            store.append("r", start + 1, [entry.event for entry in log.unsaved()])
            log.mark_saved(start + 500)
        held = len(log.entries)
        tail = asyncio.create_task(collect(log, after_id="2990"))
        whole = asyncio.create_task(collect(log))
        await asyncio.sleep(0.2)
        log.append({"type": "finished"})
        return held, await whole, await tail

    held, whole, tail = asyncio.run(scenario())
    assert held == KEEP_IN_MEMORY
    assert whole == b"".join(f"{seq}:step".encode() for seq in range(1, 3001)) + b"3001:finished"
    assert tail == b"".join(f"{seq}:step".encode() for seq in range(2991, 3001)) + b"3001:finished"


def test_over_the_memory_budget_a_log_keeps_nothing_the_store_holds(tmp_path):
    from app.runs.log import MemoryBudget
    from app.runs.store import RunStore

    store = RunStore(f"sqlite:///{tmp_path / 'runs.sqlite3'}")
    budget = MemoryBudget(limit_bytes=100)

    async def scenario():
        log = EventLog(encode, stored=lambda after: store.chunks("r", after), budget=budget)
        for i in range(50):
            log.append({"type": "step", "i": i})
        store.append("r", 1, [entry.event for entry in log.unsaved()])
        log.mark_saved(50)
        return len(log.entries), budget.used

    assert asyncio.run(scenario()) == (0, 0)


def test_a_finished_run_replays_from_the_store_in_bounded_writes(tmp_path):
    from app.runs.log import WRITE_BYTES
    from app.runs.store import RunStore

    store = RunStore(f"sqlite:///{tmp_path / 'runs.sqlite3'}")
    store.add("r", {"model": "linreg"})
    events = [{"type": "step", "pad": "x" * 500} for _ in range(5000)] + [
        {"type": "finished", "status": "done"}
    ]
    store.finish("r", events)

    def big_encode(seq, event):
        return f"{seq}:{event['type']}:{event.get('pad', '')}\n".encode()

    async def scenario():
        log = EventLog.stored_only(big_encode, len(events), lambda after: store.chunks("r", after))
        return [chunk async for chunk in log.follow()]

    writes = asyncio.run(scenario())
    assert b"".join(writes) == b"".join(big_encode(str(i + 1), e) for i, e in enumerate(events))
    assert len(writes) >= 10 and max(map(len, writes)) <= WRITE_BYTES


def test_a_run_cut_off_by_a_stop_replays_its_stored_chunks_then_how_it_ended(tmp_path):
    """Read back after a restart without loading its log into memory: only the ending lives there."""
    from app.runs.service import RunBook
    from app.runs.store import RunStore
    from app.settings import Settings

    store = RunStore(f"sqlite:///{tmp_path / 'runs.sqlite3'}")
    store.add("cut", {"model": "linreg"})
    store.set_status("cut", "running")
    store.append("cut", 1, [{"type": "step", "i": i} for i in range(500)])
    store.append("cut", 501, [{"type": "step", "i": i} for i in range(500, 1000)])
    assert store.last_seq("cut") == 1000 and store.last_seq("nothing") == 0
    store.mark_interrupted()

    async def scenario():
        run = RunBook(Settings(data_dir=tmp_path), encode, store, None).from_store("cut")
        return run, len(run.log.entries), await collect(run.log)

    run, in_memory, replayed = asyncio.run(scenario())
    assert run.status == "interrupted" and in_memory == 1
    assert replayed == b"".join(f"{seq}:step".encode() for seq in range(1, 1001)) + b"1001:finished"


def test_viewers_replaying_one_stored_run_read_each_chunk_from_the_store_once(tmp_path):
    """Thirty viewers open a finished run at once: the store is read (and each event encoded) once per
    chunk between them, and each viewer still gets every event once, in order."""
    from app.runs.store import CHUNK_EVENTS, RunStore

    store = RunStore(f"sqlite:///{tmp_path / 'runs.sqlite3'}")
    store.add("r", {"model": "linreg"})
    steps = [{"type": "step", "i": i} for i in range(3 * CHUNK_EVENTS)]
    events = [*steps, {"type": "finished", "status": "done"}]
    store.finish("r", events)
    reads = []

    def stored(after):
        reads.append(after)
        return store.chunks("r", after)

    async def scenario():
        log = EventLog.stored_only(encode, len(events), stored)
        return await asyncio.gather(*(collect(log) for _ in range(30)))

    ENCODE_CALLS.clear()
    seen = asyncio.run(scenario())
    whole = b"".join(encode(str(seq), event) for seq, event in enumerate(events, start=1))
    assert all(viewer == whole for viewer in seen)
    assert sorted(reads) == [0, CHUNK_EVENTS, 2 * CHUNK_EVENTS, 3 * CHUNK_EVENTS]  # four chunks, once each
    assert len(ENCODE_CALLS) == 2 * len(events)  # the test's `whole`, and the replay once


def test_the_replay_cache_keeps_to_its_bound_dropping_the_least_recently_used():
    from app.runs.log import ENTRY_OVERHEAD, ReplayCache

    cache = ReplayCache(limit_bytes=3 * (10 + ENTRY_OVERHEAD))
    reads = []

    async def read(key):
        async def chunk():
            reads.append(key)
            return [(key, b"x" * 10)]

        return await cache.get((0, key), chunk)

    async def scenario():
        for key in (1, 2, 3, 1, 4, 1, 2):  # 4 pushes out 2 (1 was used since), 2 is read again
            await read(key)

    asyncio.run(scenario())
    assert reads == [1, 2, 3, 4, 2]
    assert cache.used <= cache.limit and len(cache.done) == 3
