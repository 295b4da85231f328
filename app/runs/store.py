"""Runs kept in a database (SQLite by default, PostgreSQL through the URL): a summary row per run, and
its events in compressed chunks written while it trains."""

import zlib
from collections.abc import Iterator
from datetime import UTC, datetime

import orjson
from sqlalchemy import (
    JSON,
    DateTime,
    Integer,
    LargeBinary,
    String,
    Text,
    create_engine,
    func,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from .endings import RUN_ENDINGS

IN_FLIGHT = ("queued", "running")
CHUNK_EVENTS = 500  # events per stored chunk


class Base(DeclarativeBase):
    pass


class RunRow(Base):
    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    model: Mapped[str] = mapped_column(String(16), index=True)
    spec: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), index=True)
    message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    dataset: Mapped[str] = mapped_column(String(32), default="")
    epochs_done: Mapped[int] = mapped_column(Integer, default=0)
    final: Mapped[dict] = mapped_column(JSON, default=dict)  # the last epoch event
    owner: Mapped[str] = mapped_column(String(64), default="", index=True)  # the visitor who started it
    group_id: Mapped[str] = mapped_column(String(32), default="")  # its race, else its own id
    class_code: Mapped[str] = mapped_column(String(8), default="", index=True)  # the class it ran in
    epochs: Mapped[list] = mapped_column(JSON, default=list)  # every epoch event (at most 200)
    ending: Mapped[dict] = mapped_column(JSON, default=dict)  # the finished event
    event_count: Mapped[int] = mapped_column(Integer, default=0)
    # Runs stored before events moved to EventChunk kept their whole log here (zlib-compressed JSON list).
    legacy_events: Mapped[bytes | None] = mapped_column("events", LargeBinary, nullable=True)


class EventChunk(Base):
    """A run's events first_seq..last_seq, compressed: a log is written and read a chunk at a time,
    so neither a long run's end nor its replay needs the whole log in memory at once."""

    __tablename__ = "run_events"

    run_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    first_seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)  # zlib-compressed JSON list


class Probe(Base):
    """One row that /readyz rewrites: the store is ready only while it can write."""

    __tablename__ = "store_probe"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RaceRow(Base):
    """Runs started together that differ in one control (same seed): drawn live on one chart."""

    __tablename__ = "races"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    vary: Mapped[str] = mapped_column(String(32))
    run_ids: Mapped[list] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    owner: Mapped[str] = mapped_column(String(64), default="", index=True)


def now() -> datetime:
    return datetime.now(UTC)


def pack(events: list[dict]) -> bytes:
    # level 1: a third of the default level's time (0.07 ms against 0.19 for 500 step events), for chunks
    # about a fifth larger; the store's writer packs every chunk of every run a class trains. orjson:
    # a softmax run's weight pictures (7,840 floats, ~58 KB) in 0.5 ms, where json took 2.0-2.4
    return zlib.compress(orjson.dumps(events), level=1)


def unpack(data: bytes) -> list[dict]:
    return orjson.loads(zlib.decompress(data))  # ~10x json.loads: every replay of a stored run reads these


def summary(events: list[dict]) -> dict:
    """The columns a finished run's page and the runs list read, from its events."""
    started = next((e for e in events if e["type"] == "started"), {})
    epochs = [e for e in events if e["type"] == "epoch"]
    return ending_columns(events[-1], started.get("dataset", ""), epochs, len(events))


def ending_columns(finished: dict, dataset: str, epochs: list[dict], event_count: int) -> dict:
    return {
        "status": finished["status"],
        "message": finished.get("message", ""),
        "finished_at": now(),
        "dataset": dataset,
        "epochs_done": len(epochs) if epochs else finished.get("epochs_done", 0),
        "final": epochs[-1] if epochs else {},
        "epochs": epochs,
        "ending": finished,
        "event_count": event_count,
    }


class RunStore:
    def __init__(self, url: str):
        sqlite = url.startswith("sqlite")
        connect_args = {"check_same_thread": False, "timeout": 5} if sqlite else {}
        # a server's connection can drop (a restart, an idle timeout): test it before use. A SQLite file
        # cannot, and the test query was 5% of the web process's CPU while a class arrived (py-spy).
        self.engine = create_engine(url, connect_args=connect_args, pool_pre_ping=not sqlite)
        Base.metadata.create_all(self.engine)
        add_missing_columns(self.engine)

    def add(self, run_id: str, spec: dict, owner: str = "", group: str = "", class_code: str = "") -> None:
        with Session(self.engine) as session, session.begin():
            session.add(
                RunRow(
                    id=run_id,
                    model=spec["model"],
                    spec=spec,
                    status="queued",
                    created_at=now(),
                    final={},
                    owner=owner,
                    group_id=group or run_id,
                    class_code=class_code,
                    epochs=[],
                    ending={},
                )
            )

    def set_status(self, run_id: str, status: str) -> None:
        with Session(self.engine) as session, session.begin():
            session.execute(update(RunRow).where(RunRow.id == run_id).values(status=status))

    def append(self, run_id: str, first_seq: int, events: list[dict]) -> None:
        """Keep events first_seq, first_seq + 1, ... of a live run (one chunk)."""
        with Session(self.engine) as session, session.begin():
            session.add(self._chunk(run_id, first_seq, events))

    def close(self, run_id: str, first_seq: int, events: list[dict], columns: dict) -> None:
        """The last chunk of a run (ending with its finished event) and its summary, in one transaction:
        a run is finished in the store entirely or not at all."""
        with Session(self.engine) as session, session.begin():
            if events:
                session.add(self._chunk(run_id, first_seq, events))
            session.execute(update(RunRow).where(RunRow.id == run_id).values(**columns))

    def finish(self, run_id: str, events: list[dict]) -> None:
        """Keep a whole event log (chunk by chunk) and the summary the runs page lists."""
        with Session(self.engine) as session, session.begin():
            for start in range(0, len(events), CHUNK_EVENTS):
                session.add(self._chunk(run_id, start + 1, events[start : start + CHUNK_EVENTS]))
            session.execute(update(RunRow).where(RunRow.id == run_id).values(**summary(events)))

    @staticmethod
    def _chunk(run_id: str, first_seq: int, events: list[dict]) -> EventChunk:
        return EventChunk(
            run_id=run_id, first_seq=first_seq, last_seq=first_seq + len(events) - 1, data=pack(events)
        )

    def mark_interrupted(self) -> int:
        """Runs that were queued or running when the server stopped will never finish: say so."""
        with Session(self.engine) as session, session.begin():
            result = session.execute(
                update(RunRow)
                .where(RunRow.status.in_(IN_FLIGHT))
                .values(
                    status="interrupted",
                    message=RUN_ENDINGS["server_stopped"],
                    finished_at=now(),
                )
            )
            return result.rowcount

    def get(self, run_id: str) -> RunRow | None:
        with Session(self.engine) as session:
            return session.get(RunRow, run_id)

    def chunks(self, run_id: str, after: int = 0) -> Iterator[list[tuple[int, dict]]]:
        """The run's events after position `after`, as (seq, event) lists, one stored chunk at a time:
        each chunk is its own query, so a reader holds one chunk in memory, never the whole log."""
        while True:
            with Session(self.engine) as session:
                chunk = session.scalars(
                    select(EventChunk)
                    .where(EventChunk.run_id == run_id, EventChunk.last_seq > after)
                    .order_by(EventChunk.first_seq)
                    .limit(1)
                ).first()
            if chunk is None:
                if after == 0:
                    yield from self._legacy_chunks(run_id)
                return
            events = unpack(chunk.data)
            yield [(chunk.first_seq + i, e) for i, e in enumerate(events) if chunk.first_seq + i > after]
            after = chunk.last_seq

    def _legacy_chunks(self, run_id: str) -> Iterator[list[tuple[int, dict]]]:
        row = self.get(run_id)
        if row is not None and row.legacy_events:
            yield list(enumerate(unpack(row.legacy_events), start=1))

    def last_seq(self, run_id: str) -> int:
        """How many events of the run the store holds in chunks (0 for none)."""
        with Session(self.engine) as session:
            last = session.scalar(select(func.max(EventChunk.last_seq)).where(EventChunk.run_id == run_id))
        return last or 0

    def events(self, run_id: str) -> list[dict] | None:
        """The whole log of a run (tests, small runs); None when nothing was stored."""
        events = [event for chunk in self.chunks(run_id) for _, event in chunk]
        return events or None

    def groups_in_flight(self, owner: str) -> set[str]:
        """The runs (a race counting once) this visitor has queued or running, on any replica."""
        query = select(RunRow.group_id, RunRow.id).where(RunRow.owner == owner, RunRow.status.in_(IN_FLIGHT))
        with Session(self.engine) as session:
            return {group or run_id for group, run_id in session.execute(query)}

    def count_by_status(self) -> dict[str, int]:
        with Session(self.engine) as session:
            return dict(session.execute(select(RunRow.status, func.count()).group_by(RunRow.status)).all())

    def reachable(self) -> bool:
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return True
        except Exception:  # any driver's connection error means the same to /readyz
            return False

    def writable(self) -> bool:
        """Can the store write now? (A full disk or a read-only folder still reads.)"""
        try:
            with Session(self.engine) as session, session.begin():
                session.merge(Probe(id=1, at=now()))
            return True
        except Exception:  # any driver's write error means the same to /readyz
            return False

    def add_race(self, race_id: str, vary: str, run_ids: list[str], owner: str = "") -> None:
        with Session(self.engine) as session, session.begin():
            session.add(RaceRow(id=race_id, vary=vary, run_ids=run_ids, created_at=now(), owner=owner))

    def race(self, race_id: str) -> RaceRow | None:
        with Session(self.engine) as session:
            return session.get(RaceRow, race_id)

    def recent_races(self, limit: int = 20, owner: str | None = None) -> list[RaceRow]:
        query = select(RaceRow).order_by(RaceRow.created_at.desc()).limit(limit)
        if owner is not None:
            query = query.where(RaceRow.owner == owner)
        with Session(self.engine) as session:
            return list(session.scalars(query))

    def recent(self, limit: int = 200, owner: str | None = None) -> list[RunRow]:
        """The newest runs, everyone's or one visitor's."""
        query = select(RunRow).order_by(RunRow.created_at.desc()).limit(limit)
        if owner is not None:
            query = query.where(RunRow.owner == owner)
        with Session(self.engine) as session:
            return list(session.scalars(query))


def add_missing_columns(engine) -> None:
    """A run store made by an earlier version lacks the newer columns: add them (nullable, no data)."""
    inspector = inspect(engine)
    for table in (RunRow.__table__, RaceRow.__table__):
        present = {column["name"] for column in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name not in present:
                kind = column.type.compile(engine.dialect)
                with engine.begin() as connection:
                    connection.execute(text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}'))
