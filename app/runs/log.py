"""The event log of one run: numbered, encoded once, followed by any number of viewers.

Memory holds the newest entries only. Older ones live in the run store, in chunks, and a viewer that
needs them (a late joiner, a reconnect, the replay of a finished run) reads them back a chunk at a
time in a thread, then follows memory. Entries leave memory only once the store holds them.
"""

import asyncio
import bisect
import itertools
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    seq: int  # 1, 2, 3, ...: the position in the log
    id: str  # the SSE id: str(seq) for local runs, the Redis stream id ("1700000000000-0") for broker runs
    event: dict  # the event as JSON-ready data
    encoded: bytes  # the bytes every viewer receives, made once
    born: float  # wall-clock time the event entered the runs layer (for the delivery-latency metric)

    def size(self) -> int:
        """About what the entry costs in memory: its bytes, and the event as Python objects (~3x its JSON)."""
        return 4 * len(self.encoded)


Encoder = Callable[[str, dict], bytes]
Observer = Callable[[Entry], None]
StoredChunks = Callable[[int], Iterator[list[tuple[int, dict]]]]  # store.chunks of one run, after a seq
KEEP_IN_MEMORY = 256  # saved entries a live log keeps for viewers that are only a little behind
WRITE_BYTES = 256 * 1024  # at most this much in one write to a viewer
# Reading and encoding stored chunks holds the GIL for milliseconds at a time: two threads for every
# replay of the process, so thirty viewers replaying at once cannot starve the event loop.
REPLAYS = ThreadPoolExecutor(2, thread_name_prefix="replay")


# Stored chunks once encoded, kept for the next replay of the same run: thirty viewers of one finished
# run (a class opening the teacher's link) read, decode and encode each chunk once between them.
REPLAY_CACHE_BYTES = 16 * 1024 * 1024
ENTRY_OVERHEAD = 100  # bytes a cached entry costs besides its encoded bytes (a tuple, an int, a bytes)

EncodedChunk = list[tuple[int, bytes]]  # (seq, the bytes a viewer receives) of one stored chunk


async def in_replay_thread(function, *args):
    return await asyncio.get_running_loop().run_in_executor(REPLAYS, function, *args)


class ReplayCache:
    """Encoded stored chunks by (log, position read after), least recently used dropped past `limit`
    bytes; a chunk asked for again while it is being read is awaited, not read twice. Stored chunks
    never change, so an entry never goes stale. Lives on the event loop's thread."""

    def __init__(self, limit_bytes: int):
        self.limit, self.used = limit_bytes, 0
        self.done: OrderedDict[tuple[int, int], tuple[EncodedChunk, int]] = OrderedDict()
        self.reading: dict[tuple[int, int], asyncio.Task] = {}

    async def get(self, key: tuple[int, int], read) -> EncodedChunk:
        """The chunk at `key`, from the cache or from `read()` (a coroutine), shared by concurrent asks."""
        if key in self.done:
            self.done.move_to_end(key)
            return self.done[key][0]
        task = self.reading.get(key)
        if task is None:
            task = self.reading[key] = asyncio.ensure_future(read())
            task.add_done_callback(lambda finished: self._keep(key, finished))
        return await asyncio.shield(task)  # a viewer that leaves does not cancel the others' read

    def _keep(self, key: tuple[int, int], task: asyncio.Task) -> None:
        del self.reading[key]
        if task.cancelled() or task.exception() is not None:
            return
        encoded = task.result()
        size = sum(len(data) + ENTRY_OVERHEAD for _, data in encoded)
        if not encoded or size > self.limit:
            return
        self.done[key] = (encoded, size)
        self.used += size
        while self.used > self.limit:
            _, (_, dropped) = self.done.popitem(last=False)
            self.used -= dropped


REPLAY_CACHE = ReplayCache(REPLAY_CACHE_BYTES)
LOG_KEYS = itertools.count()  # a key per log, never reused (an id() could be, after a log is gone)


def id_order(event_id: str) -> tuple[int, ...]:
    """ "12" -> (12,), "1700000000000-3" -> (1700000000000, 3): ids compare in the order they were given."""
    parts = event_id.split("-", 1)
    if not all(part.isdigit() and len(part) <= 20 for part in parts):
        return (-1,)
    return tuple(int(part) for part in parts)


class MemoryBudget:
    """Bytes held by every live log of one process, against PLAYGROUND_EVENT_MEMORY_MB."""

    def __init__(self, limit_bytes: float):
        self.limit, self.used = limit_bytes, 0

    def over(self) -> bool:
        return self.used > self.limit


class EventLog:
    """Append-only; lives on the event loop's thread, so it needs no locks.

    Viewers wait on one asyncio.Event that is set and replaced at each append: a new event wakes
    every viewer once, whatever their number.
    """

    def __init__(
        self,
        encode: Encoder,
        on_delivered: Observer | None = None,
        stored: StoredChunks | None = None,
        budget: MemoryBudget | None = None,
    ):
        self.entries: list[Entry] = []  # in memory: seqs base + 1 .. count
        self.base = 0  # entries up to this seq were dropped from memory (the store has them)
        self.saved = 0  # entries up to this seq are in the store
        self.closed = False
        self._encode, self._on_delivered, self._stored = encode, on_delivered, stored
        self._budget = budget or MemoryBudget(float("inf"))
        self._orders: list[tuple[int, ...]] = []
        self._changed = asyncio.Event()
        self._wake_pending = False
        self._key = next(LOG_KEYS)

    @property
    def count(self) -> int:
        return self.base + len(self.entries)

    @classmethod
    def stored_only(cls, encode: Encoder, count: int, stored: StoredChunks, on_delivered=None) -> "EventLog":
        """A finished run whose `count` events are all in the store: nothing in memory."""
        log = cls.after_stored(encode, count, stored, on_delivered)
        log.closed = True
        return log

    @classmethod
    def after_stored(cls, encode: Encoder, count: int, stored: StoredChunks, on_delivered=None) -> "EventLog":
        """A log whose first `count` events are in the store, none in memory; more may be appended."""
        log = cls(encode, on_delivered, stored)
        log.base = log.saved = count
        return log

    def append(self, event: dict, event_id: str | None = None, born: float | None = None) -> Entry:
        seq = self.count + 1
        event_id = event_id or str(seq)
        entry = Entry(seq, event_id, event, self._encode(event_id, event), born or time.time())
        self.entries.append(entry)
        self._orders.append(id_order(event_id))
        self._budget.used += entry.size()
        if event.get("type") == "finished":
            self.closed = True
        self._wake_soon()
        return entry

    def _wake_soon(self) -> None:
        """Wake the viewers once the loop is done with what it is doing now: a batch of appends wakes
        them once, not once per event."""
        if self._wake_pending:
            return
        try:
            asyncio.get_running_loop().call_soon(self._wake)
            self._wake_pending = True
        except RuntimeError:  # no loop running (a log filled outside one): wake now
            self._wake()

    def unsaved(self) -> list[Entry]:
        return self.entries[self.saved - self.base :]

    def mark_saved(self, seq: int) -> None:
        """The store holds every entry up to `seq`: memory may let the older ones go."""
        self.saved = max(self.saved, seq)
        keep = 0 if self._budget.over() else KEEP_IN_MEMORY
        self.forget_upto(min(self.saved, self.count - keep))

    def forget_upto(self, seq: int) -> None:
        dropped = max(0, seq - self.base)
        if not dropped or self._stored is None:
            return
        self._budget.used -= sum(entry.size() for entry in self.entries[:dropped])
        del self.entries[:dropped], self._orders[:dropped]
        self.base += dropped

    def release(self) -> None:
        """The run is over and stored: give its memory back."""
        if self._stored is not None and self.saved >= self.count:
            self.forget_upto(self.count)

    def _wake(self) -> None:
        self._wake_pending = False
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def changed(self) -> asyncio.Event:
        """Set at the next append: await it after reading the entries, to wait for more."""
        return self._changed

    def position_after(self, last_event_id: str) -> int:
        """How many entries a viewer that last saw `last_event_id` has already had."""
        order = id_order(last_event_id)
        if self.base and len(order) == 1:  # local ids are positions
            return min(max(order[0], 0), self.count)
        return self.base + bisect.bisect_right(self._orders, order)

    def after(self, seq: int) -> list[Entry]:
        """The entries above `seq` that memory holds."""
        return self.entries[max(seq - self.base, 0) :]

    async def follow(self, after: int = 0, after_id: str | None = None) -> AsyncIterator[bytes]:
        """The encoded entries above position `after` (or above the entry `after_id`), then each new
        batch, until the run finishes; older entries come from the store, a chunk at a time.

        `after_id` is looked up again at each wake-up: a replica that mirrors a broker run may not yet
        hold the entry a reconnecting viewer names, and must not resend what comes before it.
        """
        after = max(after, 0)
        while True:
            changed = self._changed
            if after_id is not None:
                after = max(after, self.position_after(after_id))
            if after < self.base:
                replayed_from = after
                async for seq, data in self.replay(after, self.base):
                    after = seq
                    yield data
                if after == replayed_from:  # the store lacks them (it failed): go on with what memory has
                    after = self.base
                continue
            pending = self.after(after)
            if pending:  # a viewer that fell behind catches up in a few large writes, not one per event
                for piece in pieces(pending):
                    after = piece[-1].seq
                    yield b"".join(entry.encoded for entry in piece)
                if self._on_delivered:
                    self._on_delivered(pending[-1])
                continue  # more may have arrived (even the last event) while this write waited
            if self.closed:
                return
            await changed.wait()

    async def events(self, after: int = 0) -> AsyncIterator[list[tuple[int, dict]]]:
        """The events themselves (seq, event) above position `after`, in batches, until the run
        finishes: stored ones read in a thread a chunk at a time, then memory's, then each new batch."""
        while True:
            changed = self._changed
            if after < self.base:
                stored = self._stored(after)
                while after < self.base and (chunk := await in_replay_thread(next, stored, None)):
                    after = chunk[-1][0]
                    yield chunk
                after = max(after, self.base)  # (past a gap the store failed to keep)
                continue
            pending = self.after(after)
            if pending:
                after = pending[-1].seq
                yield [(entry.seq, entry.event) for entry in pending]
                continue
            if self.closed:
                return
            await changed.wait()

    async def replay(self, after: int, upto: int) -> AsyncIterator[tuple[int, bytes]]:
        """Stored entries after..upto, a chunk at a time, each read and encoded in a thread (or found in
        REPLAY_CACHE): (last seq, bytes)."""
        while after < upto:
            encoded = await REPLAY_CACHE.get((self._key, after), lambda at=after: self._read_chunk(at))
            encoded = [item for item in encoded if item[0] <= upto]
            if not encoded:
                return
            for piece in pieces(encoded, lambda item: len(item[1])):
                yield piece[-1][0], b"".join(data for _, data in piece)
            after = encoded[-1][0]

    async def _read_chunk(self, after: int) -> EncodedChunk:
        return await in_replay_thread(self._encode_chunk, after)

    def _encode_chunk(self, after: int) -> EncodedChunk:
        """The stored chunk that holds the entry after `after`, encoded (from there on)."""
        chunk = next(self._stored(after), None) or []
        return [(seq, self._encode(str(seq), event)) for seq, event in chunk]


def pieces(items: list, size_of=lambda entry: len(entry.encoded)) -> Iterator[list]:
    """Consecutive runs of items of at most WRITE_BYTES each (at least one item)."""
    start, size = 0, 0
    for index, item in enumerate(items):
        if size and size + size_of(item) > WRITE_BYTES:
            yield items[start:index]
            start, size = index, 0
        size += size_of(item)
    yield items[start:]
