"""Finished runs kept in a database (SQLite by default, PostgreSQL through the URL): summary + events."""

import json
import zlib
from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    DateTime,
    Integer,
    LargeBinary,
    String,
    Text,
    create_engine,
    func,
    select,
    text,
    update,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from .endings import RUN_ENDINGS

IN_FLIGHT = ("queued", "running")


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
    events: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)  # zlib-compressed JSON list


class RaceRow(Base):
    """Runs started together that differ in one control (same seed): drawn live on one chart."""

    __tablename__ = "races"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    vary: Mapped[str] = mapped_column(String(32))
    run_ids: Mapped[list] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


def now() -> datetime:
    return datetime.now(UTC)


class RunStore:
    def __init__(self, url: str):
        connect_args = {"check_same_thread": False} if url.startswith("sqlite") else {}
        self.engine = create_engine(url, connect_args=connect_args)
        Base.metadata.create_all(self.engine)

    def add(self, run_id: str, spec: dict) -> None:
        with Session(self.engine) as session, session.begin():
            session.add(
                RunRow(id=run_id, model=spec["model"], spec=spec, status="queued", created_at=now(), final={})
            )

    def set_status(self, run_id: str, status: str) -> None:
        with Session(self.engine) as session, session.begin():
            session.execute(update(RunRow).where(RunRow.id == run_id).values(status=status))

    def finish(self, run_id: str, events: list[dict]) -> None:
        """Keep the whole event log (compressed) and the summary the runs page lists."""
        started = next((e for e in events if e["type"] == "started"), {})
        epochs = [e for e in events if e["type"] == "epoch"]
        finished = events[-1]
        with Session(self.engine) as session, session.begin():
            session.execute(
                update(RunRow)
                .where(RunRow.id == run_id)
                .values(
                    status=finished["status"],
                    message=finished.get("message", ""),
                    finished_at=now(),
                    dataset=started.get("dataset", ""),
                    epochs_done=finished.get("epochs_done", 0),
                    final=epochs[-1] if epochs else {},
                    events=zlib.compress(json.dumps(events).encode()),
                )
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

    def events(self, run_id: str) -> list[dict] | None:
        row = self.get(run_id)
        return json.loads(zlib.decompress(row.events)) if row and row.events else None

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

    def add_race(self, race_id: str, vary: str, run_ids: list[str]) -> None:
        with Session(self.engine) as session, session.begin():
            session.add(RaceRow(id=race_id, vary=vary, run_ids=run_ids, created_at=now()))

    def race(self, race_id: str) -> RaceRow | None:
        with Session(self.engine) as session:
            return session.get(RaceRow, race_id)

    def recent_races(self, limit: int = 20) -> list[RaceRow]:
        with Session(self.engine) as session:
            return list(session.scalars(select(RaceRow).order_by(RaceRow.created_at.desc()).limit(limit)))

    def recent(self, limit: int = 200) -> list[RunRow]:
        with Session(self.engine) as session:
            return list(session.scalars(select(RunRow).order_by(RunRow.created_at.desc()).limit(limit)))
