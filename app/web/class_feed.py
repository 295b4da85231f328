"""One event stream for a class's board: the class log and every student's run, encoded once.

A class feed reads the class log from the store (every `poll_s`, or at once when this process wrote to
it: `poke`) and, for each `run` event there, that run's event log, as a race feed reads its lanes. Each
message's id lists how far every source has been read: the class log first, then lane 0, 1, 2 ...
("14.30.7.0"), so a board that reconnects with Last-Event-ID resumes every source where it was, on this
replica or another (lanes are numbered by the class log, the same everywhere).

Students follow only the class log's public events (preset, quiz, reveal, ended), with the class log's
position as the id.

Run events reach the board as started (without the data preview), step, epoch and finished, with their
`lane` and `t`, the wall-clock time they entered the feed (the board delay is measured from it).
"""

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Callable

from sse_starlette import ServerSentEvent

from app.classes.service import STUDENT_EVENTS
from app.classes.store import ClassEvent
from app.runs.log import EventLog

from .race_feed import with_id

BOARD_RUN_EVENTS = ("started", "step", "epoch", "finished")
STARTED_KEPT = ("type", "dataset", "n_train", "n_test", "steps_per_epoch", "total_steps", "initial_test_acc")
POLL_S = 0.3
IDLE_S = 60.0  # a feed nobody has watched this long stops reading
FEEDS_KEPT = 8
log = logging.getLogger("d2l_playground.classes")


def board_event(event: dict) -> dict:
    if event["type"] == "started":
        return {name: event[name] for name in STARTED_KEPT if name in event}
    return event


class ClassFeed:
    def __init__(
        self,
        read_log: Callable[[int], list[ClassEvent]],
        run_log: Callable[[str], EventLog | None],
        poll_s: float = POLL_S,
    ):
        self.read_log, self.run_log, self.poll_s = read_log, run_log, poll_s
        self.positions = [0]  # the class log's, then each lane's
        self.messages: list[bytes] = []
        self.sources: list[tuple[int, int, int]] = []  # source (0 class log, i + 1 lane i), seq, body end
        self.index_of_id: dict[str, int] = {"0": 0}
        self.public: list[tuple[int, bytes]] = []  # (class seq, message) for the students' pages
        self.viewers = 0
        self.last_watched = time.monotonic()
        self._changed = asyncio.Event()
        self._poked = asyncio.Event()
        self._lanes: list[asyncio.Task] = []
        self._poller = asyncio.ensure_future(self._poll())

    # --- reading the sources ----------------------------------------------------------------------
    async def _poll(self) -> None:
        while True:
            try:
                events = await asyncio.to_thread(self.read_log, self.positions[0])
            except Exception as error:  # a store that cannot read now: try again at the next poll
                log.warning("class log unreadable: %s", error)
                events = []
            for event in events:
                self._add_class_event(event)
            if events:
                self._wake()
                continue
            self._poked.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poked.wait(), self.poll_s)

    def poke(self) -> None:
        """This process wrote to the class log: read it now rather than at the next poll."""
        self._poked.set()

    def _add_class_event(self, event: ClassEvent) -> None:
        self.positions[0] = event.seq
        data = {"seq": event.seq, **event.data}
        if event.type == "run":
            self._add_lane(event.data["lane"], event.data["run_id"])
        self._add(0, event.seq, event.type, data)
        if event.type in STUDENT_EVENTS:
            body = ServerSentEvent(data=json.dumps(data), event=event.type).encode().removesuffix(b"\r\n")
            self.public.append((event.seq, body + with_id(str(event.seq))))

    def _add_lane(self, lane: int, run_id: str) -> None:
        while len(self.positions) < lane + 2:
            self.positions.append(0)
        log_ = self.run_log(run_id)
        if log_ is not None:
            self._lanes.append(asyncio.ensure_future(self._read_lane(lane, log_)))

    async def _read_lane(self, lane: int, run_events: EventLog) -> None:
        async for batch in run_events.events():
            born = time.time()
            for seq, event in batch:
                if event["type"] in BOARD_RUN_EVENTS:
                    self.positions[lane + 1] = seq
                    self._add(lane + 1, seq, event["type"], {"lane": lane, "t": born, **board_event(event)})
                else:
                    self.positions[lane + 1] = seq
            self._wake()

    def _add(self, source: int, seq: int, name: str, data: dict) -> None:
        body = ServerSentEvent(data=json.dumps(data, separators=(",", ":")), event=name).encode()
        body = body.removesuffix(b"\r\n")
        event_id = ".".join(map(str, self.positions))
        self.messages.append(body + with_id(event_id))
        self.sources.append((source, seq, len(body)))
        self.index_of_id[event_id] = len(self.messages)

    def _wake(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def stop(self) -> None:
        self._poller.cancel()
        for lane in self._lanes:
            lane.cancel()

    # --- the viewers ------------------------------------------------------------------------------
    async def follow(self, positions: list[int]) -> AsyncIterator[bytes]:
        """The board: every source's messages after `positions`, in the feed's order, while it is open."""
        self.viewers += 1
        try:
            index = self.index_of_id.get(".".join(map(str, positions)))
            stream = self._shared(index) if index is not None else self._own(positions)
            async for chunk in stream:
                yield chunk
        finally:
            self.viewers -= 1
            self.last_watched = time.monotonic()

    async def _shared(self, index: int) -> AsyncIterator[bytes]:
        while True:
            changed = self._changed
            if index < len(self.messages):
                end = len(self.messages)
                yield b"".join(self.messages[index:end])
                index = end
                continue
            await changed.wait()

    async def _own(self, positions: list[int]) -> AsyncIterator[bytes]:
        """A board resuming from an id this feed did not send: the same messages, ids of its own."""
        index = 0
        while True:
            changed = self._changed
            end, chunks = len(self.messages), []
            for message, (source, seq, body_end) in zip(
                self.messages[index:end], self.sources[index:end], strict=True
            ):
                while len(positions) <= source:
                    positions.append(0)
                if seq > positions[source]:
                    positions[source] = seq
                    chunks.append(message[:body_end] + with_id(".".join(map(str, positions))))
            index = end
            if chunks:
                yield b"".join(chunks)
                continue
            await changed.wait()

    async def follow_public(self, after: int) -> AsyncIterator[bytes]:
        """A student's page: the preset, quiz, reveal and ended events after class position `after`."""
        self.viewers += 1
        try:
            index = 0
            while True:
                changed = self._changed
                fresh = [message for seq, message in self.public[index:] if seq > after]
                index = len(self.public)
                if fresh:
                    yield b"".join(fresh)
                    continue
                await changed.wait()
        finally:
            self.viewers -= 1
            self.last_watched = time.monotonic()


class ClassFeeds:
    """The feeds of one web process, by class code; feeds nobody watches are stopped after a while."""

    def __init__(self):
        self.feeds: dict[str, ClassFeed] = {}

    def of(self, code: str, make: Callable[[], ClassFeed]) -> ClassFeed:
        self._forget_idle()
        if code not in self.feeds:
            self.feeds[code] = make()
        return self.feeds[code]

    def poke(self, code: str) -> None:
        if code in self.feeds:
            self.feeds[code].poke()

    def _forget_idle(self) -> None:
        now = time.monotonic()
        idle = [
            code
            for code, feed in self.feeds.items()
            if not feed.viewers and (now - feed.last_watched > IDLE_S or len(self.feeds) >= FEEDS_KEPT)
        ]
        for code in idle:
            self.feeds.pop(code).stop()

    def close(self) -> None:
        for feed in self.feeds.values():
            feed.stop()
        self.feeds.clear()
