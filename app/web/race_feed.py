"""One event stream for a race's lanes, merged in arrival order and encoded once for all its viewers.

A feed reads each lane's run log (stored chunks, then memory, then live events) in a task of its own,
and appends every started, step, epoch and finished event to one list as SSE bytes whose id lists
how far each lane has been read ("12.7.30"). Viewers that start from the beginning, or resume from an
id this feed sent, get those very bytes. A viewer resuming from any other id (another replica, a
restart) gets the same events with ids of its own, which costs a join per event, not a JSON encoding.
"""

import asyncio
from collections.abc import AsyncIterator

import orjson
from sse_starlette import ServerSentEvent

from app.runs.log import EventLog

RACE_EVENTS = ("started", "step", "epoch", "finished")  # what the race chart draws; snapshots stay out
FEEDS_KEPT = 4  # feeds nobody watches are dropped beyond this many (a later viewer makes a new one)


class MultiplexedFeed:
    """Messages from several numbered sources, merged in arrival order and encoded once for every viewer.

    Each message's id is the positions read so far of every source ("12.7.30"). A viewer that starts
    from the beginning or resumes from an id this feed sent gets the very bytes; one that resumes from
    any other id (another replica, a restart) gets the same messages with ids of its own. A source that
    appears later (a class's new lane) extends the positions.
    """

    def __init__(self, sources: int):
        self.positions = [0] * sources
        self.messages: list[bytes] = []  # whole SSE messages, their id the feed's positions after them
        self.sources: list[tuple[int, int, int]] = []  # per message: source, seq, where its id line starts
        self.index_of_id: dict[str, int] = {".".join(["0"] * sources): 0}
        self.viewers = 0
        self.closed = False
        self._changed = asyncio.Event()

    def add(self, source: int, seq: int, name: str, data: dict) -> None:
        body = ServerSentEvent(data=orjson.dumps(data).decode(), event=name).encode()
        body = body.removesuffix(b"\r\n")
        event_id = ".".join(map(str, self.positions))
        self.messages.append(body + with_id(event_id))
        self.sources.append((source, seq, len(body)))
        self.index_of_id[event_id] = len(self.messages)

    def wake(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def follow(self, positions: list[int]) -> AsyncIterator[bytes]:
        """Every source's messages after `positions`, in the feed's order, until the feed is closed."""
        self.viewers += 1
        try:
            index = self.index_of_id.get(".".join(map(str, positions)))
            stream = self._shared(index) if index is not None else self._own(list(positions))
            async for chunk in stream:
                yield chunk
        finally:
            self.viewers -= 1
            self.left()

    def left(self) -> None:
        """A viewer went away (a feed that forgets idle ones notes when)."""

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
            for message, (source, seq, body_end) in zip(messages, sources, strict=True):
                positions += [0] * (source + 1 - len(positions))
                if seq > positions[source]:
                    positions[source] = seq
                    chunks.append(message[:body_end] + with_id(".".join(map(str, positions))))
            index = end
            if chunks:
                yield b"".join(chunks)
                continue
            if self.closed:
                return
            await changed.wait()


class RaceFeed(MultiplexedFeed):
    """A race's lanes: each a run's event log, read in a task of its own until every lane has finished."""

    def __init__(self, logs: list[EventLog]):
        super().__init__(len(logs))
        self._readers = [asyncio.ensure_future(self._read(lane, log)) for lane, log in enumerate(logs)]
        asyncio.ensure_future(self._close_when_read())

    async def _read(self, lane: int, log: EventLog) -> None:
        async for batch in log.events():
            for seq, event in batch:
                self.positions[lane] = seq
                if event["type"] in RACE_EVENTS:
                    self.add(lane, seq, event["type"], {"lane": lane, **event})
            self.wake()

    async def _close_when_read(self) -> None:
        await asyncio.gather(*self._readers, return_exceptions=True)
        self.closed = True
        self.wake()

    def stop(self) -> None:
        for reader in self._readers:
            reader.cancel()


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
