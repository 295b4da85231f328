"""The playground pages: home, one page per model, starting a run from the form, and a run's status and
Cancel as the live panel asks for them."""

from typing import get_args

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse
from markupsafe import escape

from app.runs.service import FINISHED, Refused
from app.training.defaults import defaults_for
from app.training.lessons import LESSONS
from app.training.specs import ClassificationDataset, SpecError, parse_spec

from .datasets import auto_dataset, dataset_choices
from .forms import (
    ACTIVATIONS,
    MODELS,
    PITFALLS,
    TRUE_W,
    controls_of,
    localized_help,
    play_query,
    raw_spec,
    spec_from_query,
)
from .identity import is_admin, may_change, visitor_of
from .views import (
    cancel_replaced,
    not_found,
    page,
    panel_context,
    refused,
    refused_run,
    runs_of,
    status_event,
)
from .wording import localized, number_problems, tr

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def home(request: Request):
    return page(request, "home.html", models=MODELS.values())


@router.get("/play/{model_key}", response_class=HTMLResponse)
async def playground(request: Request, model_key: str):
    model = MODELS.get(model_key)
    if model is None:
        return not_found(request, tr(request, "error.no_playground", name=repr(model_key)))
    auto = auto_dataset(request)
    spec, notices = spec_from_query(model, request.query_params, auto)
    controls = localized_help(request, controls_of(model, spec))
    lessons = lesson_links(request)
    for name, control in controls.items():
        if "step" in control:  # a number field
            control["problems"] = number_problems(request, name, control)
    return page(
        request,
        "play.html",
        model=model,
        controls=controls,
        pair_defaults=pair_defaults(request, model, auto),
        lessons=lessons,
        lesson=next((one for one in lessons if one["key"] == request.query_params.get("lesson")), None),
        notices=localized(request, notices),
        pitfalls={name: tr(request, f"pitfall.{name}") for name in PITFALLS},
        datasets=dataset_choices(request),
        true_w_choices={value: tr(request, f"truew.{value}") for value in TRUE_W},
        activations=ACTIVATIONS,
    )


@router.post("/play/{model_key}/runs", response_class=HTMLResponse)
async def start_run(request: Request, model_key: str):
    model = MODELS.get(model_key)
    if model is None:
        return not_found(request, tr(request, "error.no_playground", name=repr(model_key)))
    form = await request.form()
    raw, problems = raw_spec(model, form)
    try:
        spec = parse_spec(raw, auto_dataset=auto_dataset(request))
    except SpecError as error:
        problems += error.problems
    if problems:
        return refused(request, 422, tr(request, "refused.fix"), problems)
    cancel_replaced(request, form)
    try:
        run = await runs_of(request).submit(
            spec.model_dump(), visitor_of(request), is_admin=is_admin(request)
        )
    except Refused as error:
        return refused_run(request, error)
    return page(request, "fragments/train_response.html", **panel_context(request, run))


@router.get("/play/runs/{run_id}/status", response_class=HTMLResponse)
async def run_status(request: Request, run_id: str):
    run = runs_of(request).get(run_id)
    event = status_event(request, run) if run else {"type": "unknown"}
    return page(request, "fragments/status.html", event=event)


@router.post("/play/runs/{run_id}/cancel", response_class=HTMLResponse)
async def cancel_run(request: Request, run_id: str):
    """Ask the run to stop and disable the button. The status line is left to the event stream, which
    says `cancelled` when the worker stops: a reply here could arrive after that and overwrite it."""
    service = runs_of(request)
    run = service.get(run_id) if len(run_id) <= 64 else None
    if run is None:
        raise HTTPException(404, tr(request, "error.no_run", id=repr(run_id[:64])))
    if not may_change(request, run.owner):
        label = tr(request, "refused.not_yours")
        return HTMLResponse(
            f'<button type="button" id="cancel" class="danger" disabled>{escape(label)}</button>', 403
        )
    if run.status not in FINISHED:
        service.cancel(run_id)  # a queued run ends at once; a running one stops between two steps
    label = tr(request, "cancel.cancelling" if run.status not in FINISHED else "cancel.finished")
    return HTMLResponse(f'<button type="button" id="cancel" class="danger" disabled>{label}</button>')


def pair_defaults(request: Request, model, auto: str) -> dict:
    """For the form's script: each dataset's defaults for this model ("auto" as the dataset `auto`
    stands for here), and the labels of the controls they set, so that choosing another dataset moves
    the controls the visitor has not touched."""
    if "dataset" not in model.controls:
        return {}
    defaults = {
        name: defaults_for(model.key, auto if name == "auto" else name)
        for name in get_args(ClassificationDataset)
    }
    names = {name for values in defaults.values() for name in values}
    return {"defaults": defaults, "labels": {name: tr(request, f"play.{name}") for name in names}}


def lesson_links(request: Request) -> list[dict]:
    """Every lesson preset as a link that opens its playground set up to show it (?lesson= names the one
    the page then says it shows)."""
    return [
        {
            "key": lesson.key,
            "title": tr(request, f"lesson.{lesson.key}.title"),
            "shows": tr(request, f"lesson.{lesson.key}.shows"),
            "href": f"/play/{lesson.model}?{play_query(lesson.spec)}&lesson={lesson.key}",
        }
        for lesson in LESSONS.values()
    ]
