"""Pause, resume, step and slow motion for your live run: the JSON API and the live panel's buttons.

The runs layer does the work (app/runs/pacing.py through the pool); a run training in a cohort, a run
not started yet and a run on the broker backend cannot be paced, and the answer says why (409).
"""

from typing import Annotated, Literal

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from app.runs import pacing

from .api import owned
from .errors import ERROR_RESPONSES, Message
from .identity import may_change
from .views import page, runs_of
from .wording import tr

router = APIRouter(
    tags=["runs"],
    responses={**ERROR_RESPONSES, 409: {"model": Message, "description": "cannot be paced now"}},
)
pages = APIRouter(include_in_schema=False)
SPEEDS = (None, 0.5, 1, 2, 5, 10, 30)  # steps per second the panel offers; None: as fast as it goes


class Speed(BaseModel):
    model_config = ConfigDict(extra="forbid")

    steps_per_second: float | None = Field(
        None, ge=0.1, le=1000, description="steps per second, 0.1 to 1000; null: as fast as it goes"
    )


def paced(request: Request, run_id: str, action: str, steps_per_second: float | None = None) -> dict:
    run = owned(request, run_id)
    answer = runs_of(request).pace(run.id, action, steps_per_second)
    if isinstance(answer, str):
        raise HTTPException(409, tr(request, f"pace.{answer}"))
    return {"id": run.id, **answer}


@router.post("/api/runs/{run_id}/speed")
async def set_speed(request: Request, run_id: str, speed: Speed) -> dict:
    """Slow motion: at most `steps_per_second` steps a second (null: as fast as it goes)."""
    return paced(request, run_id, "speed", speed.steps_per_second)


@router.post("/api/runs/{run_id}/pause")
async def pause_run(request: Request, run_id: str) -> dict:
    """Pause your running run: it stops between two steps and holds its worker, up to
    PLAYGROUND_PAUSE_TIMEOUT_S, then ends with a message."""
    return paced(request, run_id, "pause")


@router.post("/api/runs/{run_id}/resume")
async def resume_run(request: Request, run_id: str) -> dict:
    """Let your paused run train on (at the speed it was given)."""
    return paced(request, run_id, "resume")


@router.post("/api/runs/{run_id}/step")
async def step_run(request: Request, run_id: str) -> dict:
    """One minibatch of your paused run, with its own step event and pictures; then paused again."""
    return paced(request, run_id, "step")


def controls(request: Request, run_id: str, state: dict | None = None, problem: str = "") -> HTMLResponse:
    state = state or {"paused": False, "steps_per_second": None}
    return page(
        request,
        "fragments/pace_controls.html",
        run_id=run_id,
        state=state,
        speeds=SPEEDS,
        problem=problem,
        limit_minutes=pacing.limit_minutes(request.app.state.settings.pause_timeout_s),
    )


@pages.post("/play/runs/{run_id}/pace/{action}", response_class=HTMLResponse)
async def pace_from_panel(
    request: Request, run_id: str, action: Literal["pause", "resume", "step", "speed"],
    steps_per_second: Annotated[str, Form(max_length=20)] = "",
):  # fmt: skip
    """The live panel's buttons: the controls again, as the run now stands, or why it cannot be paced."""
    run = runs_of(request).get(run_id) if len(run_id) <= 64 else None
    if run is None:
        raise HTTPException(404, tr(request, "error.no_run", id=repr(run_id[:64])))
    if not may_change(request, run.owner):  # shown as it stands, unchanged
        now = runs_of(request).pace(run.id, "look")
        return controls(
            request, run_id, now if isinstance(now, dict) else None, tr(request, "refused.not_yours")
        )
    rate = float(steps_per_second) if steps_per_second.replace(".", "", 1).isdigit() else None
    rate = min(max(rate, 0.1), 1000) if rate else None
    answer = runs_of(request).pace(run.id, action, rate)
    if isinstance(answer, str):
        return controls(request, run_id, problem=tr(request, f"pace.{answer}"))
    return controls(request, run_id, answer)
