"""The runs pages: your runs (everyone's for the admin), one run's own page, and 2 to 8 runs compared on one
chart. Reading a stored run's events grows with its size, so that happens in a thread."""

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from app.runs.service import RunState, events_of

from .forms import MODELS
from .identity import is_admin, visitor_of
from .views import not_found, page, panel_context, runs_of
from .wording import ago, legend_labels, summary, tr

router = APIRouter(include_in_schema=False)

COMPARE_MIN, COMPARE_MAX = 2, 8
COMPARE_POINTS = 2000  # loss points per run on the compare chart, at most
RUNS_LISTED = 100


@router.get("/runs", response_class=HTMLResponse)
async def runs_page(request: Request):
    owner = None if is_admin(request) else visitor_of(request)
    rows = await asyncio.to_thread(runs_of(request).store.recent, RUNS_LISTED, owner)
    listed = [
        {
            "id": row.id,
            "model": row.model,
            "title": tr(request, f"model.{row.model}.title") if row.model in MODELS else row.model,
            "summary": summary(request, row.spec)[1:],
            "status": row.status,
            "final": row.final or {},
            "created": row.created_at,
            "ago": ago(request, row.created_at),
        }
        for row in rows
    ]
    races = [
        {"id": race.id, "vary": race.vary, "n": len(race.run_ids), "ago": ago(request, race.created_at)}
        for race in await asyncio.to_thread(runs_of(request).store.recent_races, 20, owner)
    ]
    return page(
        request, "runs.html", runs=listed, races=races, compare_min=COMPARE_MIN, compare_max=COMPARE_MAX
    )


@router.get("/runs/compare", response_class=HTMLResponse)
async def compare(request: Request, ids: Annotated[list[str] | None, Query()] = None):
    ids = list(dict.fromkeys(i.strip() for i in ids or [] if i.strip()))
    if not COMPARE_MIN <= len(ids) <= COMPARE_MAX:
        message = tr(request, "error.compare_count", min=COMPARE_MIN, max=COMPARE_MAX, n=len(ids))
        return page(request, "error.html", 400, title=tr(request, "error.cannot_compare"), message=message)
    service = runs_of(request)
    runs = [service.get(i) for i in ids]
    unknown = [i for i, run in zip(ids, runs, strict=True) if run is None]
    if unknown:
        return not_found(request, tr(request, "error.no_run", id=", ".join(unknown)))
    labels = legend_labels(request, runs)
    store = runs_of(request).store
    readers = [(run, label, events_of(run, store)) for run, label in zip(runs, labels, strict=True)]
    series = await asyncio.to_thread(lambda: [curves(*reader) for reader in readers])
    return page(
        request,
        "compare.html",
        series=series,
        runs=list(zip(runs, labels, strict=True)),
        summaries=[summary(request, run.spec) for run in runs],
    )


def curves(run: RunState, label: str, events) -> dict:
    """The loss per step and the test metrics per epoch of one run, for the compare charts; the step
    curve thinned to at most COMPARE_POINTS points (a chart is a few hundred pixels wide). Reads the
    run's events as it goes: call it in a thread."""
    started, steps, epochs, stride, seen = None, [], [], 1, 0
    for e in events:
        if e["type"] == "step":
            seen += 1
            if seen % stride == 0:
                steps.append([e["step"], e["loss"]])
            if len(steps) >= 2 * COMPARE_POINTS:  # keep every other point, and take half as many
                steps, stride = steps[1::2], 2 * stride
        elif e["type"] == "epoch":
            epochs.append([e["epoch"], e.get("test_acc"), e["test_loss"]])
        elif e["type"] == "started":
            started = e
    if started:
        epochs.insert(0, [0, started.get("initial_test_acc"), started.get("initial_test_loss")])
    return {
        "id": run.id,
        "label": label,
        "status": run.status,
        "steps_per_epoch": started["steps_per_epoch"] if started else None,
        "steps": steps,
        "epochs": epochs,
    }


@router.get("/runs/{run_id}", response_class=HTMLResponse)
async def run_page(request: Request, run_id: str):
    run = runs_of(request).get(run_id)
    if run is None:
        return not_found(request, tr(request, "error.no_run", id=repr(run_id)))
    return page(request, "run.html", **panel_context(request, run))
