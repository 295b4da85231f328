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
