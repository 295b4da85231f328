"""The event log of one run: numbered, encoded once, followed by any number of viewers."""

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    seq: int  # 1, 2, 3, ...: the SSE id
    event: dict  # the event as JSON-ready data
    encoded: bytes  # the bytes every viewer receives, made once


Encoder = Callable[[int, dict], bytes]


class EventLog:
    """Append-only; lives on the event loop's thread, so it needs no locks.

    Viewers wait on one asyncio.Event that is set and replaced at each append: a new event wakes
    every viewer once, whatever their number.
    """

    def __init__(self, encode: Encoder):
        self.entries: list[Entry] = []
        self.closed = False
        self._encode = encode
        self._changed = asyncio.Event()

    def append(self, event: dict) -> Entry:
        seq = len(self.entries) + 1
        entry = Entry(seq, event, self._encode(seq, event))
        self.entries.append(entry)
        if event.get("type") == "finished":
            self.closed = True
        self._wake()
        return entry

    def _wake(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def after(self, seq: int) -> list[Entry]:
        return self.entries[max(seq, 0) :]

    async def follow(self, after: int = 0) -> AsyncIterator[bytes]:
        """The encoded entries above `after`, then each new batch, until the run finishes."""
        while True:
            changed = self._changed
            pending = self.entries[max(after, 0) :]
            if pending:  # a viewer that fell behind catches up in one write, not one per event
                after = pending[-1].seq
                yield b"".join(entry.encoded for entry in pending)
                continue  # more may have arrived (even the last event) while this write waited
            if self.closed:
                return
            await changed.wait()
