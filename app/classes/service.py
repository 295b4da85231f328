"""What a class does: created by a teacher, joined by students, pushed presets and quiz items, ended.

Each method is one short transaction on the class store (a blocking call: the web layer runs it in a
thread). The class log's events say what happened, for the board and the students' pages:

- `joined`    {student, name}                            a student joined
- `run`       {lane, student, name, run_id, settings}    a student started a run (lane: 0, 1, 2 ... in order)
- `preset`    {preset, spec, unlocked}                   the teacher pushed a preset
- `quiz`      {item}                                     the teacher asked a quiz item
- `answered`  {student, name, item, answer, verdict}     a student answered it (again: the newer counts)
- `reveal`    {item}                                     the teacher showed the explanation
- `ended`     {}                                         the teacher ended the class
"""

import secrets

from sqlalchemy import func, select

from .rules import ClassProblem, check_unlocked, clean_name, clean_title, new_code, unique_name
from .store import AnswerRow, ClassEvent, ClassEventRow, ClassRow, ClassStore, CodeTaken, StudentRow, now

CODE_TRIES = 20
MAX_STUDENTS = 500
STUDENT_EVENTS = ("preset", "quiz", "reveal", "ended")  # what a student's page follows


class Classes:
    def __init__(self, store: ClassStore):
        self.store = store

    # --- the teacher --------------------------------------------------------------------------------
    def create(self, owner: str, title: str, preset: str, spec: dict, unlocked: list[str]) -> ClassRow:
        """A new open class; `spec` is the preset as a validated run spec (dict)."""
        title = clean_title(title)
        unlocked = check_unlocked(spec["model"], unlocked)
        for _ in range(CODE_TRIES):
            row = ClassRow(
                code=new_code(),
                title=title,
                owner=owner,
                teacher_key=secrets.token_urlsafe(24),
                teachers=[],
                preset={"key": preset, "spec": spec},
                unlocked=unlocked,
                status="open",
                quiz={},
                last_seq=0,
                created_at=now(),
            )
            try:
                self.store.create(row)
                return row
            except CodeTaken:
                continue
        raise RuntimeError("no free join code after many tries")  # 31^6 codes: only a full table gets here

    def is_teacher(self, row: ClassRow, visitor: str) -> bool:
        return visitor == row.owner or visitor in (row.teachers or [])

    def add_teacher(self, code: str, visitor: str, key: str) -> bool:
        """The teacher link opened on another device: that visitor may run the board too."""

        def change(session, row):
            if not secrets.compare_digest(key.encode(), row.teacher_key.encode()):
                raise ClassProblem("this teacher link is not valid for the class", "bad_key", 403)
            if visitor != row.owner and visitor not in (row.teachers or []):
                row.teachers = [*(row.teachers or []), visitor][-20:]
            return None

        self.store.change(code, change)
        return True

    def push_preset(self, code: str, preset: str, spec: dict, unlocked: list[str]) -> ClassEvent:
        unlocked = check_unlocked(spec["model"], unlocked)

        def change(session, row):
            require_open(row)
            row.preset, row.unlocked = {"key": preset, "spec": spec}, unlocked
            return "preset", {"preset": preset, "spec": spec, "unlocked": unlocked}

        return self.store.change(code, change)

    def push_quiz(self, code: str, item: str) -> ClassEvent:
        def change(session, row):
            require_open(row)
            row.quiz = {"item": item, "revealed": False}
            return "quiz", {"item": item}

        return self.store.change(code, change)

    def reveal(self, code: str) -> ClassEvent:
        def change(session, row):
            if not row.quiz:
                raise ClassProblem("there is no quiz item to reveal; push one first", "no_quiz")
            row.quiz = {**row.quiz, "revealed": True}
            return "reveal", {"item": row.quiz["item"]}

        return self.store.change(code, change)

    def end(self, code: str) -> ClassEvent | None:
        """Close joining and training; a class already ended stays as it was."""

        def change(session, row):
            if row.status == "ended":
                return None
            row.status, row.ended_at = "ended", now()
            return "ended", {}

        return self.store.change(code, change)

    # --- the students -------------------------------------------------------------------------------
    def join(self, code: str, visitor: str, name: str) -> StudentRow:
        """The visitor joins under `name` (made unique in the class); joining again keeps the first name."""
        name = clean_name(name)
        joined: list[StudentRow] = []

        def change(session, row):
            require_open(row)
            present = session.get(StudentRow, (code, visitor))
            if present is not None:
                joined.append(present)
                return None
            taken = set(session.scalars(select(StudentRow.name).where(StudentRow.class_code == code)))
            if len(taken) >= MAX_STUDENTS:
                raise ClassProblem(f"this class is full ({MAX_STUDENTS} students)", "class_full", 409)
            student = StudentRow(
                class_code=code,
                visitor=visitor,
                number=len(taken) + 1,
                name=unique_name(name, taken),
                joined_at=now(),
            )
            session.add(student)
            joined.append(student)
            return "joined", {"student": student.number, "name": student.name}

        self.store.change(code, change)
        return joined[0]

    def record_run(self, code: str, student: StudentRow, run_id: str, settings: dict) -> ClassEvent:
        """A student's run, queued: it becomes the board's next lane."""

        def change(session, row):
            lanes = session.scalar(
                select(func.count())
                .select_from(ClassEventRow)
                .where(ClassEventRow.class_code == code, ClassEventRow.type == "run")
            )
            data = {"lane": lanes, "student": student.number, "name": student.name, "run_id": run_id}
            return "run", {**data, "settings": settings}

        return self.store.change(code, change)

    def answer(self, code: str, student: StudentRow, item: str, answer: str, verdict: str) -> ClassEvent:
        def change(session, row):
            require_open(row)
            if row.quiz.get("item") != item:
                raise ClassProblem("this question is no longer the one asked", "not_asked", 409)
            kept = session.get(AnswerRow, (code, item, student.visitor))
            if kept is None:
                session.add(
                    AnswerRow(
                        class_code=code,
                        item=item,
                        visitor=student.visitor,
                        answer=answer,
                        verdict=verdict,
                        at=now(),
                    )
                )
            else:
                kept.answer, kept.verdict, kept.at = answer, verdict, now()
            data = {"student": student.number, "name": student.name, "item": item}
            return "answered", {**data, "answer": answer, "verdict": verdict}

        return self.store.change(code, change)

    def student_may_train(self, row: ClassRow) -> None:
        require_open(row)


def require_open(row: ClassRow) -> None:
    if row.status != "open":
        raise ClassProblem("the teacher has ended this class", "ended", 409)
