"""One event stream for a race's lanes, merged in arrival order and encoded once for all its viewers.

A feed reads each lane's run log (stored chunks, then memory, then live events) in a task of its own,
and appends every started, step, epoch and finished event to one list as SSE bytes whose id lists
how far each lane has been read ("12.7.30"). Viewers that start from the beginning, or resume from an
id this feed sent, get those very bytes. A viewer resuming from any other id (another replica, a
restart) gets the same events with ids of its own, which costs a join per event, not a JSON encoding.
"""

import asyncio
import json
from collections.abc import AsyncIterator

from sse_starlette import ServerSentEvent

from app.runs.log import EventLog

RACE_EVENTS = ("started", "step", "epoch", "finished")  # what the race chart draws; snapshots stay out
FEEDS_KEPT = 4  # feeds nobody watches are dropped beyond this many (a later viewer makes a new one)


class RaceFeed:
    def __init__(self, logs: list[EventLog]):
        self.lanes = len(logs)
        self.messages: list[bytes] = []  # whole SSE messages, their id the feed's positions after them
        self.sources: list[tuple[int, int, int]] = []  # per message: lane, seq, where its id line starts
        self.index_of_id: dict[str, int] = {".".join(["0"] * self.lanes): 0}
        self.positions = [0] * self.lanes
        self.viewers = 0
        self.closed = False
        self._changed = asyncio.Event()
        self._readers = [asyncio.ensure_future(self._read(lane, log)) for lane, log in enumerate(logs)]
        asyncio.ensure_future(self._close_when_read())

    async def _read(self, lane: int, log: EventLog) -> None:
        async for batch in log.events():
            for seq, event in batch:
                self.positions[lane] = seq
                if event["type"] in RACE_EVENTS:
                    self._add(lane, seq, event)
            self._wake()

    def _add(self, lane: int, seq: int, event: dict) -> None:
        data = json.dumps({"lane": lane, **event}, separators=(",", ":"))
        body = ServerSentEvent(data=data, event=event["type"]).encode().removesuffix(b"\r\n")
        event_id = ".".join(map(str, self.positions))
        self.messages.append(body + with_id(event_id))
        self.sources.append((lane, seq, len(body)))
        self.index_of_id[event_id] = len(self.messages)

    async def _close_when_read(self) -> None:
        await asyncio.gather(*self._readers, return_exceptions=True)
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def stop(self) -> None:
        for reader in self._readers:
            reader.cancel()

    async def follow(self, positions: list[int]) -> AsyncIterator[bytes]:
        """Every lane's events after `positions`, in the feed's order, until every lane has finished."""
        self.viewers += 1
        try:
            index = self.index_of_id.get(".".join(map(str, positions)))
            stream = self._shared(index) if index is not None else self._own(positions)
            async for chunk in stream:
                yield chunk
        finally:
            self.viewers -= 1

    async def _shared(self, index: int) -> AsyncIterator[bytes]:
        while True:
            changed = self._changed
            if index < len(self.messages):
                end = len(self.messages)
                yield b"".join(self.messages[index:end])
                index = end
                continue
            if self.closed:
                return
            await changed.wait()

    async def _own(self, positions: list[int]) -> AsyncIterator[bytes]:
        index = 0
        while True:
            changed = self._changed
            end, chunks = len(self.messages), []
            messages, sources = self.messages[index:end], self.sources[index:end]
            for message, (lane, seq, body_end) in zip(messages, sources, strict=True):
                if seq > positions[lane]:
                    positions[lane] = seq
                    chunks.append(message[:body_end] + with_id(".".join(map(str, positions))))
            index = end
            if chunks:
                yield b"".join(chunks)
                continue
            if self.closed:
                return
            await changed.wait()


def with_id(event_id: str) -> bytes:
    """The id line that ends an SSE message (and the blank line after it)."""
    return b"id: " + event_id.encode() + b"\r\n\r\n"


class RaceFeeds:
    """The feeds of one web process, by race id."""

    def __init__(self):
        self.feeds: dict[str, RaceFeed] = {}

    def of(self, race_id: str, logs: list[EventLog]) -> RaceFeed:
        if race_id not in self.feeds:
            self._forget_idle()
            self.feeds[race_id] = RaceFeed(logs)
        return self.feeds[race_id]

    def _forget_idle(self) -> None:
        idle = [race_id for race_id, feed in self.feeds.items() if not feed.viewers]
        for race_id in idle[: max(0, len(self.feeds) - FEEDS_KEPT + 1)]:
            self.feeds.pop(race_id).stop()
