"""Classroom mode, the students' side and the class itself: start a class, join it, train in it.

A teacher starts a class at /classes/new (a preset to push and the settings students may change); the
class gets a join code and a board (class_board.py). A student opens /classes/{code} (or types the code on
the home page), picks a display name, and gets the class playground: the pushed preset, the locked settings
shown but disabled. Their runs are theirs and tagged with the class; the page follows the class's public
events (a new preset, a quiz item, the reveal, the end) over SSE and lets htmx fetch what changed.
"""

import asyncio
from typing import Annotated

from fastapi import APIRouter, Form, Header, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette import EventSourceResponse

from app.classes.rules import PRESETS, ClassProblem, locked_changes, normal_code, settable
from app.classes.service import Classes
from app.classes.store import ClassRow, StudentRow
from app.runs.service import Refused, RunState
from app.training.specs import SpecError, parse_spec

from .api import describe as describe_run
from .api import event_stream
from .class_feed import ClassFeed
from .datasets import auto_dataset, dataset_choices
from .errors import ERROR_RESPONSES, Message
from .forms import ACTIVATIONS, MODELS, PITFALLS, TRUE_W, controls_of, localized_help, raw_spec
from .i18n import messages
from .identity import is_admin, visitor_of
from .refusals import refusal_error
from .views import not_found, page, panel_context, refused, refused_run, runs_of
from .wording import field_label, number_problems, tr

CLASS_RESPONSES = {
    **ERROR_RESPONSES,
    409: {"model": Message, "description": "the class has ended, is full, or asks another question now"},
}
router = APIRouter(tags=["classes"], responses=CLASS_RESPONSES)
pages = APIRouter(include_in_schema=False)


def classes_of(request: Request) -> Classes:
    return request.app.state.classes


async def blocking(function, *args):
    """A class store call, off the event loop."""
    return await asyncio.to_thread(function, *args)


async def find_class(request: Request, code: str) -> ClassRow | None:
    code = normal_code(code)
    return await blocking(classes_of(request).store.get, code) if code else None


async def student_of(request: Request, row: ClassRow) -> StudentRow | None:
    return await blocking(classes_of(request).store.student, row.code, visitor_of(request))


def problem_text(request: Request, problem: ClassProblem) -> str:
    key = f"class.problem.{problem.code}"
    return tr(request, key, **problem.values) if key in messages() else str(problem)


def class_error(request: Request, problem: ClassProblem) -> HTTPException:
    """The JSON API's answer: a 422 lists its problems (one here), as every 422 of the API does."""
    text = problem_text(request, problem)
    return HTTPException(problem.status, [text] if problem.status == 422 else text)


def feed_of(request: Request, code: str) -> ClassFeed:
    store, runs = classes_of(request).store, runs_of(request)

    def run_log(run_id: str):
        run = runs.get(run_id)
        return run.log if run else None

    return request.app.state.class_feeds.of(
        code, lambda: ClassFeed(lambda after: store.events(code, after), run_log)
    )


def preset_title(request: Request, key: str) -> str:
    if key.startswith("lesson:"):
        return tr(request, f"lesson.{key.removeprefix('lesson:')}.title")
    return tr(request, "class.preset_defaults", model=tr(request, f"model.{key}.title"))


def preset_choices(request: Request) -> list[dict]:
    return [{"key": key, "title": preset_title(request, key)} for key in PRESETS]


def resolve_preset(request: Request, key: str) -> dict:
    """The preset as a full run spec on this server (its dataset `auto` made concrete)."""
    if key not in PRESETS:
        raise ClassProblem(f"preset: no preset {key!r}", "unknown_preset", preset=key[:40])
    return parse_spec(dict(PRESETS[key]), auto_dataset=auto_dataset(request)).model_dump()


UNLOCKABLE_SHOWN = (  # the settings the forms offer to unlock, in the playground's order
    "lr", "batch_size", "epochs", "seed", "dataset", "true_w", "impl", "init_std", "hidden_units",
    "hidden_layers", "activation", "noise", "n_examples", "test_share", "data_seed", "skip_zero_grad",
    "broadcast_bug", "naive_softmax", "neurons",
)  # fmt: skip


def unlockable_choices(request: Request) -> list[dict]:
    return [{"name": name, "label": field_label(request, name)} for name in UNLOCKABLE_SHOWN]


# --- starting a class ---------------------------------------------------------------------------------
class NewClass(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200, description="what the board and students' pages show")
    preset: str = Field("softmax", max_length=80, description="a model's key or lesson:<key>")
    unlocked: list[str] = Field(["lr"], max_length=40, description="settings students may change")


async def create_class(request: Request, new: NewClass) -> ClassRow:
    spec = resolve_preset(request, new.preset)
    unlocked = [name for name in new.unlocked if name in settable(spec["model"])] or []
    unknown = [name for name in new.unlocked if name not in settable(spec["model"])]
    if unknown:
        raise ClassProblem(
            "unlocked: not a setting of this model", "unknown_setting", names=", ".join(unknown)
        )
    return await blocking(
        classes_of(request).create, visitor_of(request), new.title, new.preset, spec, unlocked
    )


def class_urls(request: Request, row: ClassRow) -> dict:
    base = str(request.base_url).rstrip("/")
    return {
        "join_url": f"{base}/classes/{row.code}",
        "board_url": f"/classes/{row.code}/board",
        "teacher_url": f"{base}/classes/{row.code}/board?key={row.teacher_key}",
        "events_url": f"/api/classes/{row.code}/events",
    }


@router.post("/api/classes", status_code=201)
async def api_create_class(request: Request, new: NewClass) -> dict:
    """Start a class you teach: students join with its `code`; you follow it on the board."""
    try:
        row = await create_class(request, new)
    except (ClassProblem, SpecError) as error:
        raise HTTPException(
            422, [problem_text(request, error)] if isinstance(error, ClassProblem) else error.problems
        ) from None
    return {"code": row.code, "title": row.title, "unlocked": row.unlocked, **class_urls(request, row)}


@pages.get("/classes/new", response_class=HTMLResponse)
async def new_class_page(request: Request):
    return page(
        request,
        "class_new.html",
        presets=preset_choices(request),
        unlockable=unlockable_choices(request),
        chosen={"title": "", "preset": "softmax", "unlocked": ["lr"]},
        problems=[],
    )


@pages.post("/classes", response_class=HTMLResponse)
async def new_class_from_form(request: Request):
    form = await request.form()
    chosen = {
        "title": str(form.get("title", ""))[:200],
        "preset": str(form.get("preset", ""))[:80],
        "unlocked": [str(name)[:40] for name in form.getlist("unlocked")][:40],
    }
    try:
        row = await create_class(request, NewClass(**chosen))
    except (ClassProblem, SpecError, ValueError) as error:
        problems = [problem_text(request, error)] if isinstance(error, ClassProblem) else [str(error)]
        return page(
            request,
            "class_new.html",
            422,
            presets=preset_choices(request),
            unlockable=unlockable_choices(request),
            chosen=chosen,
            problems=problems,
        )
    return Response(status_code=303, headers={"Location": f"/classes/{row.code}/board"})


# --- joining ------------------------------------------------------------------------------------------
@pages.get("/classes/join", response_class=HTMLResponse)
async def join_by_code(request: Request, code: str = ""):
    """The home page's "Join a class" box."""
    row = await find_class(request, code[:40])
    if row is None:
        return not_found(request, tr(request, "class.no_class", code=code[:40] or "-"))
    return Response(status_code=303, headers={"Location": f"/classes/{row.code}"})


class Joining(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=200, description="your display name in the class (1 to 30 characters)")


@router.get("/api/classes/{code}")
async def api_class(request: Request, code: str) -> dict:
    """The class as its students see it: title, status, the preset's spec and the unlocked settings."""
    row = await find_class(request, code)
    if row is None:
        raise HTTPException(404, tr(request, "class.no_class", code=code[:40]))
    teaching = is_admin(request) or classes_of(request).is_teacher(row, visitor_of(request))
    if not teaching and await student_of(request, row) is None:
        raise HTTPException(403, tr(request, "class.not_joined"))
    return {
        "code": row.code,
        "title": row.title,
        "status": row.status,
        "preset": row.preset["key"],
        "spec": row.preset["spec"],
        "unlocked": row.unlocked,
        "quiz": row.quiz or {},
    }


@router.post("/api/classes/{code}/students", status_code=201)
async def api_join(request: Request, code: str, joining: Joining) -> dict:
    """Join a class under a display name (made unique in the class); joining again keeps your name."""
    row = await find_class(request, code)
    if row is None:
        raise HTTPException(404, tr(request, "class.no_class", code=code[:40]))
    try:
        student = await blocking(classes_of(request).join, row.code, visitor_of(request), joining.name)
    except ClassProblem as problem:
        raise class_error(request, problem) from None
    request.app.state.class_feeds.poke(row.code)
    return {"code": row.code, "name": student.name, "student": student.number}


@pages.post("/classes/{code}/join", response_class=HTMLResponse)
async def join_from_form(request: Request, code: str, name: Annotated[str, Form(max_length=200)] = ""):
    row = await find_class(request, code)
    if row is None:
        return not_found(request, tr(request, "class.no_class", code=code[:40]))
    try:
        await blocking(classes_of(request).join, row.code, visitor_of(request), name)
    except ClassProblem as problem:
        return page(
            request,
            "class_join.html",
            problem.status,
            row=row,
            student_name=name,
            problem=problem_text(request, problem),
        )
    request.app.state.class_feeds.poke(row.code)
    return Response(status_code=303, headers={"Location": f"/classes/{row.code}"})


# --- the class playground -----------------------------------------------------------------------------
def student_spec(row: ClassRow, values: dict) -> dict:
    """The class's preset with the student's unlocked values, each kept only where it is valid."""
    spec = dict(row.preset["spec"])
    for name in row.unlocked:
        if name in values:
            try:
                spec = parse_spec(spec | {name: values[name]}).model_dump()
            except SpecError:
                continue
    return spec


def form_context(request: Request, row: ClassRow, values: dict, student: StudentRow | None) -> dict:
    spec = student_spec(row, values)
    model = MODELS[spec["model"]]
    controls = localized_help(request, controls_of(model, parse_spec(spec)))
    for name, control in controls.items():
        if "step" in control:
            control["problems"] = number_problems(request, name, control)
    unlocked_labels = ", ".join(field_label(request, name) for name in row.unlocked) or "-"
    ended = row.status != "open"
    return {
        "row": row,
        "student": student,
        "model": model,
        "controls": controls,
        "locked": [name for name in model.controls if name not in row.unlocked or ended],
        "locked_note": tr(
            request,
            "class.ended_note" if ended else "class.locked_note",
            title=row.title,
            names=unlocked_labels,
        ),
        "train_closed": ended,
        "form_action": f"/classes/{row.code}/runs",
        "class_mode": True,
        "pitfalls": {name: tr(request, f"pitfall.{name}") for name in PITFALLS},
        "datasets": dataset_choices(request),
        "true_w_choices": {value: tr(request, f"truew.{value}") for value in TRUE_W},
        "activations": ACTIVATIONS,
        "pair_defaults": {},
        "preset_title": preset_title(request, row.preset["key"]),
    }


@pages.get("/classes/{code}", response_class=HTMLResponse)
async def class_page(request: Request, code: str):
    row = await find_class(request, code)
    if row is None:
        return not_found(request, tr(request, "class.no_class", code=code[:40]))
    student = await student_of(request, row)
    if student is None:
        return page(request, "class_join.html", row=row, student_name="", problem="")
    quiz = await quiz_context(request, row, student)
    return page(request, "class_play.html", **form_context(request, row, {}, student), **quiz)


@pages.get("/classes/{code}/form", response_class=HTMLResponse)
async def class_form(request: Request, code: str):
    """The settings form again after the teacher pushed a preset: the student's unlocked values (sent
    along from the page) are kept where they still apply."""
    row, student = await joined(request, code)
    values = dict(request.query_params)
    return page(request, "fragments/settings_form.html", **form_context(request, row, values, student))


async def joined(request: Request, code: str) -> tuple[ClassRow, StudentRow]:
    """The class and the caller as its student; 404 without the class, 403 for someone not in it."""
    row = await find_class(request, code)
    if row is None:
        raise HTTPException(404, tr(request, "class.no_class", code=code[:40]))
    student = await student_of(request, row)
    if student is None:
        raise HTTPException(403, tr(request, "class.not_joined"))
    return row, student


async def start_class_run(
    request: Request, row: ClassRow, student: StudentRow, values: dict, strict: bool
) -> RunState:
    """Queue the student's run: the class's preset with their values; a locked setting given another
    value is refused by name (ClassProblem), a bad value by the spec's own problems (SpecError)."""
    classes_of(request).student_may_train(row)
    class_spec = row.preset["spec"]
    if values.get("model", class_spec["model"]) != class_spec["model"]:
        raise ClassProblem("model: locked by the teacher", "locked", names="model")
    spec = parse_spec(class_spec | values, strict=strict).model_dump()
    changed = locked_changes(class_spec, row.unlocked, spec)
    if changed:
        names = ", ".join(changed)
        raise ClassProblem(
            f"{names}: locked by the teacher; you may change {', '.join(row.unlocked)}", "locked", names=names
        )
    run = await runs_of(request).submit(
        spec, visitor_of(request), is_admin=is_admin(request), class_code=row.code
    )
    settings = {name: spec.get(name) for name in row.unlocked}
    try:
        await blocking(classes_of(request).record_run, row.code, student, run.id, settings)
    except Exception:  # a run the class does not know of would train outside it, unseen on the board
        runs_of(request).cancel(run.id)
        raise
    request.app.state.class_feeds.poke(row.code)
    return run


@router.post("/api/classes/{code}/runs", status_code=201)
async def api_class_run(request: Request, code: str, values: dict) -> dict:
    """Train in the class: the body holds your values of the settings the teacher unlocked (a locked one
    may be sent only with the class's value)."""
    row, student = await joined(request, code)
    try:
        run = await start_class_run(request, row, student, values, strict=True)
    except ClassProblem as problem:
        raise class_error(request, problem) from None
    except SpecError as error:
        raise HTTPException(422, error.problems) from None
    except Refused as error:
        raise refusal_error(request, error) from None
    return {**describe_run(request, run), "class": row.code}


@pages.post("/classes/{code}/runs", response_class=HTMLResponse)
async def class_run_from_form(request: Request, code: str):
    row, student = await joined(request, code)
    form = await request.form()
    raw, problems = raw_spec(MODELS[row.preset["spec"]["model"]], form)
    values = {name: raw[name] for name in row.unlocked if name in raw}
    try:
        if problems:
            raise SpecError(problems)
        run = await start_class_run(request, row, student, values, strict=False)
    except ClassProblem as problem:
        return refused(request, problem.status, tr(request, "refused.fix"), [problem_text(request, problem)])
    except SpecError as error:
        return refused(request, 422, tr(request, "refused.fix"), error.problems)
    except Refused as error:
        return refused_run(request, error)
    return page(request, "fragments/train_response.html", **panel_context(request, run))


# --- the students' stream, the quiz -------------------------------------------------------------------
@pages.get("/classes/{code}/updates")
async def student_updates(
    request: Request, code: str, last_event_id: Annotated[str | None, Header()] = None
) -> EventSourceResponse:
    """What a student's page follows: preset, quiz, reveal and ended, by name (htmx fetches the rest)."""
    row, _ = await joined(request, code)
    after = (
        int(last_event_id) if last_event_id and last_event_id.isdigit() and len(last_event_id) < 12 else None
    )
    if after is None:
        after = row.last_seq  # a page just rendered shows the class as it is now
    return event_stream(request, feed_of(request, row.code).follow_public(after))


async def quiz_context(request: Request, row: ClassRow, student: StudentRow) -> dict:
    from app.exercises.content import find_item

    item_id = (row.quiz or {}).get("item")
    if not item_id:
        return {"quiz": None}
    try:
        _, item = find_item(item_id)
    except KeyError:
        return {"quiz": None}
    answers = await blocking(classes_of(request).store.answers, row.code)
    mine = next((a for a in answers if a.item == item_id and a.visitor == student.visitor), None)
    return {"quiz": {"item": item, "revealed": bool(row.quiz.get("revealed")), "mine": mine}}


@pages.get("/classes/{code}/quiz", response_class=HTMLResponse)
async def class_quiz(request: Request, code: str):
    row, student = await joined(request, code)
    return page(request, "fragments/class_quiz.html", row=row, **(await quiz_context(request, row, student)))


@pages.post("/classes/{code}/answers", response_class=HTMLResponse)
async def class_answer(
    request: Request,
    code: str,
    item: Annotated[str, Form(max_length=80)] = "",
    answer: Annotated[str, Form(max_length=200)] = "",
):
    """A student's answer, graded by the exercises' checker; the verdict waits for the teacher's reveal."""
    from app.exercises.answers import ACCEPTED_FORMS
    from app.exercises.content import answer_form, find_item, grade

    row, student = await joined(request, code)
    try:
        _, quiz_item = find_item(item)
    except KeyError:
        raise HTTPException(404, tr(request, "class.problem.not_asked")) from None
    if not answer.strip():
        return page(request, "fragments/class_answer.html", 422, verdict="empty")
    verdict = grade(quiz_item, answer)
    if verdict == "unreadable":
        form = answer_form(quiz_item)
        forms = ACCEPTED_FORMS.get(form, [])
        return page(request, "fragments/class_answer.html", 422, verdict=verdict, form=form, forms=forms)
    try:
        await blocking(classes_of(request).answer, row.code, student, item, answer.strip()[:40], verdict)
    except ClassProblem as problem:
        return page(
            request,
            "fragments/class_answer.html",
            problem.status,
            verdict="refused",
            problem=problem_text(request, problem),
        )
    request.app.state.class_feeds.poke(row.code)
    return page(request, "fragments/class_answer.html", verdict="kept", answer=answer.strip()[:40])


@pages.get("/classes/{code}/state", response_class=HTMLResponse)
async def class_state(request: Request, code: str):
    row, _ = await joined(request, code)
    return page(
        request, "fragments/class_state.html", row=row, preset_title=preset_title(request, row.preset["key"])
    )
