"""A race's lanes in one stream, encoded once for every viewer, resumable from any lane positions."""

import asyncio
import json
from types import SimpleNamespace

import orjson

from app.runs.log import EventLog
from app.web import race_feed
from app.web.race_feed import RaceFeed


def encode(event_id, event):
    return f"{event_id}:{event['type']}\n".encode()


def messages(stream: bytes) -> list[tuple[str, dict]]:
    """(id, data) of each SSE message."""
    found = []
    for block in stream.decode().split("\r\n\r\n"):
        fields = dict(line.split(": ", 1) for line in block.split("\r\n") if ": " in line)
        if "data" in fields:
            found.append((fields["id"], json.loads(fields["data"])))
    return found


async def read_all(feed, positions):
    return b"".join([chunk async for chunk in feed.follow(positions)])


def test_every_viewer_gets_the_same_bytes_and_each_event_is_encoded_once(monkeypatch):
    dumps = []
    counting = SimpleNamespace(dumps=lambda *a, **k: dumps.append(1) or orjson.dumps(*a, **k))
    monkeypatch.setattr(race_feed, "orjson", counting)  # the feed's encodings only

    async def scenario():
        logs = [EventLog(encode), EventLog(encode)]
        feed = RaceFeed(logs)
        viewers = [asyncio.create_task(read_all(feed, [0, 0])) for _ in range(5)]
        for step in range(1, 4):
            for lane, log in enumerate(logs):
                log.append({"type": "step", "step": step, "lane_loss": lane})
                log.append({"type": "snapshot", "kind": "weights"})  # not drawn: skipped, yet counted
            await asyncio.sleep(0)
        for log in logs:
            log.append({"type": "finished", "status": "done"})
        return await asyncio.gather(*viewers)

    seen = asyncio.run(scenario())
    assert all(stream == seen[0] for stream in seen)
    received = messages(seen[0])
    assert len(received) == len(dumps) == 8, "3 steps and a finish per lane, each encoded once"
    assert [(data["lane"], data["type"]) for _, data in received].count((0, "step")) == 3
    assert received[-1][0] in ("7.7",), "the last id says both lanes were read to their end"


def test_a_viewer_resuming_from_positions_this_feed_never_sent_gets_each_event_once():
    async def scenario():
        logs = [EventLog(encode), EventLog(encode)]
        for step in range(1, 6):
            for log in logs:
                log.append({"type": "step", "step": step})
        for log in logs:
            log.append({"type": "finished", "status": "done"})
        feed = RaceFeed(logs)
        return await read_all(feed, [3, 1])

    received = messages(asyncio.run(scenario()))
    lane0 = [data["step"] for _, data in received if data["lane"] == 0 and data["type"] == "step"]
    lane1 = [data["step"] for _, data in received if data["lane"] == 1 and data["type"] == "step"]
    assert lane0 == [4, 5] and lane1 == [2, 3, 4, 5]
    assert received[-1][0] == "6.6"
