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

from .race_feed import MultiplexedFeed, with_id

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


class ClassFeed(MultiplexedFeed):
    """Source 0 is the class log, polled from the store; source i + 1 is lane i, a student's run."""

    def __init__(
        self,
        read_log: Callable[[int], list[ClassEvent]],
        run_log: Callable[[str], EventLog | None],
        poll_s: float = POLL_S,
    ):
        super().__init__(1)
        self.read_log, self.run_log, self.poll_s = read_log, run_log, poll_s
        self.public: list[tuple[int, bytes]] = []  # (class seq, message) for the students' pages
        self.last_watched = time.monotonic()
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
                self.wake()
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
        self.add(0, event.seq, event.type, data)
        if event.type in STUDENT_EVENTS:
            body = ServerSentEvent(data=json.dumps(data), event=event.type).encode().removesuffix(b"\r\n")
            self.public.append((event.seq, body + with_id(str(event.seq))))

    def _add_lane(self, lane: int, run_id: str) -> None:
        self.positions += [0] * (lane + 2 - len(self.positions))
        run_events = self.run_log(run_id)
        if run_events is not None:
            self._lanes.append(asyncio.ensure_future(self._read_lane(lane, run_events)))

    async def _read_lane(self, lane: int, run_events: EventLog) -> None:
        async for batch in run_events.events():
            born = time.time()
            for seq, event in batch:
                self.positions[lane + 1] = seq
                if event["type"] in BOARD_RUN_EVENTS:
                    self.add(lane + 1, seq, event["type"], {"lane": lane, "t": born, **board_event(event)})
            self.wake()

    def stop(self) -> None:
        self._poller.cancel()
        for lane in self._lanes:
            lane.cancel()

    # --- the viewers ------------------------------------------------------------------------------
    def left(self) -> None:
        self.last_watched = time.monotonic()

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
            self.left()


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
