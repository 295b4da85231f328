"""A class kept in the run store's database, so that it survives a restart and every web replica of a
scaled-out server sees the same class.

Everything that happens in a class (a student joins, a student starts a run, the teacher pushes a preset
or a quiz item, an answer, the reveal, the end) is a row of its event log, numbered 1, 2, 3 ... per class.
Each write takes the class row's lock first (see ClassStore.change), so the numbers are given and
committed in order: a reader that has seen event n never
misses an event below n that commits later.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import JSON, DateTime, Integer, String, Text, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

log = logging.getLogger("d2l_playground.classes")


class Base(DeclarativeBase):
    pass


class ClassRow(Base):
    __tablename__ = "classes"

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    title: Mapped[str] = mapped_column(String(120))
    owner: Mapped[str] = mapped_column(String(64), index=True)  # the teacher's visitor id
    teacher_key: Mapped[str] = mapped_column(String(64))  # the secret of the teacher link
    teachers: Mapped[list] = mapped_column(JSON, default=list)  # visitors who opened the teacher link
    preset: Mapped[dict] = mapped_column(JSON)  # {"key", "spec"}: what students start from
    unlocked: Mapped[list] = mapped_column(JSON)  # the settings students may change
    status: Mapped[str] = mapped_column(String(16), default="open")  # open, ended
    quiz: Mapped[dict] = mapped_column(JSON, default=dict)  # {"item", "revealed"} or {}
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class StudentRow(Base):
    __tablename__ = "class_students"

    class_code: Mapped[str] = mapped_column(String(8), primary_key=True)
    visitor: Mapped[str] = mapped_column(String(64), primary_key=True)
    number: Mapped[int] = mapped_column(Integer)  # 1, 2, 3 ... in the order they joined
    name: Mapped[str] = mapped_column(Text)
    joined_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ClassEventRow(Base):
    __tablename__ = "class_events"

    class_code: Mapped[str] = mapped_column(String(8), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(16))
    data: Mapped[dict] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AnswerRow(Base):
    __tablename__ = "class_answers"

    class_code: Mapped[str] = mapped_column(String(8), primary_key=True)
    item: Mapped[str] = mapped_column(String(80), primary_key=True)
    visitor: Mapped[str] = mapped_column(String(64), primary_key=True)
    answer: Mapped[str] = mapped_column(Text)
    verdict: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True)
class ClassEvent:
    seq: int
    type: str
    data: dict


def now() -> datetime:
    return datetime.now(UTC)


class CodeTaken(Exception):
    """Another class has this join code already."""


class ClassStore:
    """The class tables, on the run store's engine."""

    def __init__(self, engine):
        self.engine = engine
        try:
            Base.metadata.create_all(engine)
        except (
            SQLAlchemyError
        ) as error:  # a read-only store: the server still serves runs; classes answer 503
            log.warning(
                "cannot create the class tables (%s); classes are unavailable", error.__class__.__name__
            )

    # --- reading ----------------------------------------------------------------------------------
    def get(self, code: str) -> ClassRow | None:
        with Session(self.engine) as session:
            return session.get(ClassRow, code)

    def student(self, code: str, visitor: str) -> StudentRow | None:
        with Session(self.engine) as session:
            return session.get(StudentRow, (code, visitor))

    def students(self, code: str) -> list[StudentRow]:
        query = select(StudentRow).where(StudentRow.class_code == code).order_by(StudentRow.number)
        with Session(self.engine) as session:
            return list(session.scalars(query))

    def events(self, code: str, after: int = 0, limit: int = 500) -> list[ClassEvent]:
        query = (
            select(ClassEventRow)
            .where(ClassEventRow.class_code == code, ClassEventRow.seq > after)
            .order_by(ClassEventRow.seq)
            .limit(limit)
        )
        with Session(self.engine) as session:
            return [ClassEvent(row.seq, row.type, row.data) for row in session.scalars(query)]

    def answers(self, code: str) -> list[AnswerRow]:
        query = select(AnswerRow).where(AnswerRow.class_code == code).order_by(AnswerRow.at)
        with Session(self.engine) as session:
            return list(session.scalars(query))

    # --- writing ----------------------------------------------------------------------------------
    def create(self, row: ClassRow) -> None:
        try:
            with Session(self.engine, expire_on_commit=False) as session, session.begin():
                session.add(row)
        except IntegrityError:
            raise CodeTaken(row.code) from None

    def change(self, code: str, change) -> ClassEvent | None:
        """Run change(session, class_row) under the class row's lock; it returns an event (type, data)
        to append to the class log, or None. Returns the appended event."""
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            # A write first: it takes the row's lock on PostgreSQL and the database's write lock on SQLite
            # (whose driver starts a transaction only at the first write, so a SELECT ... FOR UPDATE,
            # which SQLite ignores anyway, would read outside it and two writers could both read seq n).
            session.execute(update(ClassRow).where(ClassRow.code == code).values(last_seq=ClassRow.last_seq))
            row = session.scalars(select(ClassRow).where(ClassRow.code == code)).first()
            if row is None:
                raise KeyError(code)
            made = change(session, row)
            if made is None:
                return None
            kind, data = made
            row.last_seq += 1
            session.add(ClassEventRow(class_code=code, seq=row.last_seq, type=kind, data=data, at=now()))
            return ClassEvent(row.last_seq, kind, data)
