"""Classroom mode, the teacher's side: the board on the projector and what the teacher does from it.

The board follows one multiplexed stream (class_feed.py): every student joining, every student's run
(its steps, epochs and ending, as lanes), quiz answers. board.js draws the loss curves, the leaderboard,
the counts, the diverged students grouped by their settings and the quiz's answers. The teacher pushes a
preset or a quiz item, reveals the explanation and ends the class from here; after the end the summary
stays, with every student's runs and answers as CSV or JSON.
"""

import csv
import io
import json
from typing import Annotated

import segno
from fastapi import Form, Header, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import escape
from sse_starlette import EventSourceResponse

from app.classes.rules import ClassProblem, settable
from app.classes.store import ClassRow
from app.exercises.content import CHOICE_KINDS, find_item, load_sections
from app.runs.service import FINISHED

from .api import attachment, event_stream
from .classes import (
    blocking,
    class_urls,
    classes_of,
    feed_of,
    find_class,
    pages,
    preset_choices,
    preset_title,
    problem_text,
    resolve_preset,
    router,
    unlockable_choices,
)
from .i18n import language
from .identity import is_admin, visitor_of
from .race import lane_positions
from .views import not_found, page, panel_context, runs_of
from .wording import field_label, format_value, tr

MAX_LANES_RESUMED = 5000


async def taught(request: Request, code: str) -> ClassRow:
    """The class, if the caller teaches it (its owner, a teacher link's visitor, or the admin)."""
    row = await find_class(request, code)
    if row is None:
        raise HTTPException(404, tr(request, "class.no_class", code=code[:40]))
    if not (is_admin(request) or classes_of(request).is_teacher(row, visitor_of(request))):
        raise HTTPException(403, tr(request, "class.not_teacher"))
    return row


def quiz_items(request: Request) -> dict:
    """Every exercise item a teacher can ask, in the board's language, for the Ask menu and the bars."""
    lang = language(request)
    items = {}
    for section in load_sections():
        for item in section.items:
            choices = (
                [{"id": c.id, "text": getattr(c.text, lang)} for c in item.choices]
                if item.kind in CHOICE_KINDS
                else []
            )
            items[item.id] = {
                "section": getattr(section.title, lang),
                "question": getattr(item.question, lang),
                "choices": choices,
            }
    return items


def item_groups(request: Request) -> list[tuple[str, list[tuple[str, str]]]]:
    """The Ask list: each section's title and its items' questions, in the board's language."""
    lang = language(request)
    return [
        (getattr(section.title, lang), [(item.id, getattr(item.question, lang)) for item in section.items])
        for section in load_sections()
    ]


def board_data(request: Request, row: ClassRow) -> dict:
    """What board.js starts from."""
    spec = row.preset["spec"]
    return {
        "code": row.code,
        "status": row.status,
        "events_url": f"/api/classes/{row.code}/events",
        "spotlight_url": f"/classes/{row.code}/spotlight",
        "unlocked": [{"name": name, "label": field_label(request, name)} for name in row.unlocked],
        "metric": "loss" if spec["model"] == "linreg" else "acc",
        "quiz": row.quiz or {},
    }


@pages.get("/classes/{code}/board", response_class=HTMLResponse)
async def board(request: Request, code: str, key: str = ""):
    row = await find_class(request, code)
    if row is None:
        return not_found(request, tr(request, "class.no_class", code=code[:40]))
    if key and not classes_of(request).is_teacher(row, visitor_of(request)):
        try:
            await blocking(classes_of(request).add_teacher, row.code, visitor_of(request), key[:100])
        except ClassProblem as problem:
            raise HTTPException(problem.status, problem_text(request, problem)) from None
        row = await find_class(request, code)
    row = await taught(request, row.code)
    return page(
        request,
        "class_board.html",
        row=row,
        urls=class_urls(request, row),
        preset=preset_title(request, row.preset["key"]),
        presets=preset_choices(request),
        unlockable=[
            c for c in unlockable_choices(request) if c["name"] in settable(row.preset["spec"]["model"])
        ],
        items=quiz_items(request),
        item_groups=item_groups(request),
        chosen_item=(row.quiz or {}).get("item") or load_sections()[0].items[0].id,
        board=board_data(request, row),
    )


@pages.get("/classes/{code}/qr.svg")
async def join_qr(request: Request, code: str) -> Response:
    """The join address as a QR code, drawn here (no outside service): phones scan it off the projector."""
    row = await find_class(request, code)
    if row is None:
        raise HTTPException(404, tr(request, "class.no_class", code=code[:40]))
    out = io.BytesIO()
    segno.make(class_urls(request, row)["join_url"], error="m").save(
        out, kind="svg", scale=6, border=2, title=tr(request, "class.qr_title", code=row.code)
    )
    return Response(out.getvalue(), media_type="image/svg+xml", headers={"Cache-Control": "max-age=3600"})


@router.get("/api/classes/{code}/events")
async def board_events(
    request: Request, code: str, last_event_id: Annotated[str | None, Header()] = None
) -> EventSourceResponse:
    """The board's stream: the class log's events (joined, run, preset, quiz, answered, reveal, ended) and
    every student's run as a lane (started, step, epoch, finished, with `lane`). Teachers only."""
    row = await taught(request, code)
    positions = []
    if last_event_id and len(last_event_id) < 16 * MAX_LANES_RESUMED:
        count = last_event_id.count(".") + 1
        positions = lane_positions(last_event_id, count)
    return event_stream(request, feed_of(request, row.code).follow(positions or [0]))


# --- what the teacher does ----------------------------------------------------------------------------
def done(request: Request, key: str, **values) -> HTMLResponse:
    return HTMLResponse(f'<p class="notice" role="status">{escape(tr(request, key, **values))}</p>')


def trouble(request: Request, problem: ClassProblem) -> HTMLResponse:
    text = escape(problem_text(request, problem))
    return HTMLResponse(f'<p class="notice error" role="alert">{text}</p>', status_code=problem.status)


@pages.post("/classes/{code}/push", response_class=HTMLResponse)
async def push_preset(request: Request, code: str):
    row = await taught(request, code)
    form = await request.form()
    key = str(form.get("preset", ""))[:80]
    unlocked = [str(name)[:40] for name in form.getlist("unlocked")][:40]
    try:
        spec = resolve_preset(request, key)
        unlocked = [name for name in unlocked if name in settable(spec["model"])]
        await blocking(classes_of(request).push_preset, row.code, key, spec, unlocked)
    except ClassProblem as problem:
        return trouble(request, problem)
    request.app.state.class_feeds.poke(row.code)
    return done(request, "class.pushed", preset=preset_title(request, key))


@pages.post("/classes/{code}/quiz", response_class=HTMLResponse)
async def push_quiz(request: Request, code: str, item: Annotated[str, Form(max_length=80)] = ""):
    row = await taught(request, code)
    try:
        find_item(item)
    except KeyError:
        return trouble(request, ClassProblem("no such exercise item", "unknown_item", item=item[:80]))
    try:
        await blocking(classes_of(request).push_quiz, row.code, item)
    except ClassProblem as problem:
        return trouble(request, problem)
    request.app.state.class_feeds.poke(row.code)
    return done(request, "class.asked")


@pages.post("/classes/{code}/reveal", response_class=HTMLResponse)
async def reveal(request: Request, code: str):
    row = await taught(request, code)
    try:
        await blocking(classes_of(request).reveal, row.code)
    except ClassProblem as problem:
        return trouble(request, problem)
    request.app.state.class_feeds.poke(row.code)
    return done(request, "class.revealed")


@pages.post("/classes/{code}/end", response_class=HTMLResponse)
async def end_class(request: Request, code: str):
    """Close joining and training: runs still queued or running are cancelled; the summary stays."""
    row = await taught(request, code)
    await blocking(classes_of(request).end, row.code)
    for run_id in await class_run_ids(request, row.code):
        run = runs_of(request).get(run_id)
        if run is not None and run.status not in FINISHED:
            runs_of(request).cancel(run_id)
    request.app.state.class_feeds.poke(row.code)
    return HTMLResponse(
        f'<p class="notice" role="status">{escape(tr(request, "class.ended_done"))} '
        f'<a href="/classes/{row.code}/summary">{escape(tr(request, "class.summary_link"))}</a></p>'
    )


async def class_run_ids(request: Request, code: str) -> list[str]:
    events = await blocking(all_events, classes_of(request).store, code)
    return [event.data["run_id"] for event in events if event.type == "run"]


def all_events(store, code: str) -> list:
    events, after = [], 0
    while batch := store.events(code, after):
        events += batch
        after = batch[-1].seq
    return events


@pages.get("/classes/{code}/spotlight", response_class=HTMLResponse)
async def spotlight(request: Request, code: str, run: str = ""):
    """One student's run, its full live panel, for the projector."""
    row = await taught(request, code)
    if run not in await class_run_ids(request, row.code):
        raise HTTPException(404, tr(request, "error.no_run", id=repr(run[:64])))
    state = runs_of(request).get(run)
    return page(request, "fragments/live_panel.html", **panel_context(request, state))


# --- the summary --------------------------------------------------------------------------------------
async def summary_rows(request: Request, row: ClassRow) -> tuple[list[dict], list[dict]]:
    """Every student's runs (one row each) and every quiz answer, for the summary and its exports."""
    store = classes_of(request).store
    events = await blocking(all_events, store, row.code)
    students = {s.number: s for s in await blocking(store.students, row.code)}
    runs = []
    for event in (e for e in events if e.type == "run"):
        state = runs_of(request).get(event.data["run_id"])
        last = (state.epochs[-1] if state and state.epochs else {}) if state else {}
        runs.append(
            {
                "student": event.data["name"],
                "run_id": event.data["run_id"],
                "settings": event.data["settings"],
                "status": state.status if state else "unknown",
                "epochs": len(state.epochs) if state else 0,
                "test_acc": last.get("test_acc"),
                "test_loss": last.get("test_loss"),
            }
        )
    by_visitor = {s.visitor: s for s in students.values()}
    answers = [
        {
            "student": by_visitor[a.visitor].name if a.visitor in by_visitor else "?",
            "item": a.item,
            "answer": a.answer,
            "verdict": a.verdict,
            "at": a.at.isoformat(),
        }
        for a in await blocking(store.answers, row.code)
    ]
    return runs, answers


@pages.get("/classes/{code}/summary", response_class=HTMLResponse)
async def class_summary(request: Request, code: str):
    row = await taught(request, code)
    runs, answers = await summary_rows(request, row)
    students = await blocking(classes_of(request).store.students, row.code)
    for one in runs:
        one["settings_text"] = ", ".join(
            f"{field_label(request, name)} = {format_value(request, name, value)}"
            for name, value in one["settings"].items()
        )
    return page(request, "class_summary.html", row=row, runs=runs, answers=answers, students=students)


@pages.get("/classes/{code}/export.json")
async def export_class_json(request: Request, code: str) -> Response:
    row = await taught(request, code)
    runs, answers = await summary_rows(request, row)
    body = {
        "code": row.code,
        "title": row.title,
        "status": row.status,
        "preset": row.preset,
        "unlocked": row.unlocked,
        "runs": runs,
        "answers": answers,
    }
    return Response(
        json.dumps(body, ensure_ascii=False, indent=1),
        media_type="application/json",
        headers=attachment(f"class-{row.code}.json"),
    )


def cell(value) -> str:
    """A CSV cell that a spreadsheet will not run: text people typed (a name, an answer) starting with
    =, +, - or @ gets a leading apostrophe. Numbers are written as they are."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


@pages.get("/classes/{code}/export.csv")
async def export_class_csv(request: Request, code: str) -> Response:
    """One row per run, then one per quiz answer (the `kind` column says which)."""
    row = await taught(request, code)
    runs, answers = await summary_rows(request, row)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["kind", "student", "run_id", "settings", "status", "epochs", "test_acc", "test_loss",
                     "item", "answer", "verdict"])  # fmt: skip
    for one in runs:
        settings = ";".join(f"{k}={v}" for k, v in one["settings"].items())
        writer.writerow(["run", cell(one["student"]), one["run_id"], settings, one["status"], one["epochs"],
                         one["test_acc"], one["test_loss"], "", "", ""])  # fmt: skip
    for one in answers:
        writer.writerow(
            [
                "answer",
                cell(one["student"]),
                "",
                "",
                "",
                "",
                "",
                "",
                one["item"],
                cell(one["answer"]),
                one["verdict"],
            ]
        )
    return Response(
        out.getvalue(), media_type="text/csv; charset=utf-8", headers=attachment(f"class-{row.code}.csv")
    )
