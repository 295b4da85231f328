"""The event log of one run: numbered, encoded once, followed by any number of viewers."""

import asyncio
import bisect
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    seq: int  # 1, 2, 3, ...: the position in the log
    id: str  # the SSE id: str(seq) for local runs, the Redis stream id ("1700000000000-0") for broker runs
    event: dict  # the event as JSON-ready data
    encoded: bytes  # the bytes every viewer receives, made once
    born: float  # wall-clock time the event entered the runs layer (for the delivery-latency metric)


Encoder = Callable[[str, dict], bytes]
Observer = Callable[[Entry], None]


def id_order(event_id: str) -> tuple[int, ...]:
    """ "12" -> (12,), "1700000000000-3" -> (1700000000000, 3): ids compare in the order they were given."""
    try:
        return tuple(int(part) for part in event_id.split("-", 1))
    except ValueError:
        return (-1,)


class EventLog:
    """Append-only; lives on the event loop's thread, so it needs no locks.

    Viewers wait on one asyncio.Event that is set and replaced at each append: a new event wakes
    every viewer once, whatever their number.
    """

    def __init__(self, encode: Encoder, on_delivered: Observer | None = None):
        self.entries: list[Entry] = []
        self.closed = False
        self._encode = encode
        self._on_delivered = on_delivered
        self._orders: list[tuple[int, ...]] = []
        self._changed = asyncio.Event()

    def append(self, event: dict, event_id: str | None = None, born: float | None = None) -> Entry:
        seq = len(self.entries) + 1
        event_id = event_id or str(seq)
        entry = Entry(seq, event_id, event, self._encode(event_id, event), born or time.time())
        self.entries.append(entry)
        self._orders.append(id_order(event_id))
        if event.get("type") == "finished":
            self.closed = True
        self._wake()
        return entry

    def _wake(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def changed(self) -> asyncio.Event:
        """Set at the next append: await it after reading the entries, to wait for more."""
        return self._changed

    def position_after(self, last_event_id: str) -> int:
        """How many entries a viewer that last saw `last_event_id` has already had."""
        return bisect.bisect_right(self._orders, id_order(last_event_id))

    def after(self, seq: int) -> list[Entry]:
        return self.entries[max(seq, 0) :]

    async def follow(self, after: int = 0, after_id: str | None = None) -> AsyncIterator[bytes]:
        """The encoded entries above position `after` (or above the entry `after_id`), then each new
        batch, until the run finishes.

        `after_id` is looked up again at each wake-up: a replica that mirrors a broker run may not yet
        hold the entry a reconnecting viewer names, and must not resend what comes before it.
        """
        while True:
            changed = self._changed
            if after_id is not None:
                after = max(after, self.position_after(after_id))
            pending = self.entries[max(after, 0) :]
            if pending:  # a viewer that fell behind catches up in one write, not one per event
                after = pending[-1].seq
                yield b"".join(entry.encoded for entry in pending)
                if self._on_delivered:
                    self._on_delivered(pending[-1])
                continue  # more may have arrived (even the last event) while this write waited
            if self.closed:
                return
            await changed.wait()
