"""Rendering shared by the page routes: a page with the catalog for its scripts, the refusal shown next to
the Train button, a 404 page, and what a run's live panel needs to draw itself."""

from fastapi import Request
from fastapi.responses import HTMLResponse

from app.runs.service import FINISHED, Refused, RunService, RunState

from .forms import MODELS, play_query
from .i18n import js_messages, tr
from .identity import may_change
from .refusals import refusal
from .templating import templates
from .wording import final_result, localized, summary


def status_event(request: Request, run: RunState) -> dict:
    """What the status line says now: the last started/finished event, or where the run waits."""
    if run.ending or run.started:
        return run.ending or run.started
    if run.status == "queued":
        service = runs_of(request)
        held = service.paused_workers() if hasattr(service, "paused_workers") else 0
        return {
            "type": "queued",
            "run_id": run.id,
            "position": service.position(run.id),
            "paused_workers": held,
        }
    return {"type": "starting"}


def runs_of(request: Request) -> RunService:
    return request.app.state.runs


def page(request: Request, name: str, status_code: int = 200, headers: dict | None = None, **context):
    context.setdefault("js_messages", js_messages(request))
    return templates.TemplateResponse(request, name, context, status_code=status_code, headers=headers)


def not_found(request: Request, message: str) -> HTMLResponse:
    return page(request, "error.html", 404, title=tr(request, "error.not_found"), message=message)


def refused(request: Request, status_code: int, title: str, problems: list[str]) -> HTMLResponse:
    """A message shown next to the Train button; the run panel below it stays as it was."""
    headers = {"HX-Retarget": "#form-problems", "HX-Reswap": "innerHTML"}
    problems = localized(request, problems)
    return page(request, "fragments/refused.html", status_code, headers, title=title, problems=problems)


def panel_context(request: Request, run: RunState) -> dict:
    return {
        "run": run,
        "model": MODELS.get(run.spec.get("model")),
        "summary": summary(request, run.spec),
        "status_event": status_event(request, run),
        "final_result": final_result(request, run),
        "finished": run.status in FINISHED,
        "play_query": play_query(run.spec),
    }


def refused_run(request: Request, error: Refused) -> HTMLResponse:
    status, title, problems, headers = refusal(request, error)
    response = refused(request, status, title, problems)
    response.headers.update(headers)
    return response


def cancel_replaced(request: Request, form) -> None:
    """Train pressed again while your run is live: the page asked you once and sends the old run's id
    as `replace`; it is cancelled here, before the new run is queued, so no run trains unseen. Only
    your own run (or any, for the admin) is cancelled; another id is ignored."""
    run_id = str(form.get("replace") or "")[:64]
    run = runs_of(request).get(run_id) if run_id else None
    if run is not None and run.status not in FINISHED and may_change(request, run.owner):
        runs_of(request).cancel(run_id)
