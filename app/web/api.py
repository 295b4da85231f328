"""JSON under /api: the same run spec as the CLI, and each run's events as server-sent events."""

import csv
import io
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from sse_starlette import EventSourceResponse

from app.runs.service import BackendUnavailable, QueueFull, RunService, RunState
from app.training.specs import SpecError, parse_spec

router = APIRouter(prefix="/api", tags=["runs"])
PING_SECONDS = 10


def runs_of(request: Request) -> RunService:
    return request.app.state.runs


def find(request: Request, run_id: str) -> RunState:
    run = runs_of(request).get(run_id)
    if run is None:
        raise HTTPException(404, f"no run with id {run_id!r}")
    return run


def submit(request: Request, raw_spec: dict) -> RunState:
    """Validate and queue; the errors carry messages meant for the learner."""
    try:
        spec = parse_spec(raw_spec)
    except SpecError as error:
        raise HTTPException(422, error.problems) from None
    try:
        return runs_of(request).submit(spec.model_dump())
    except QueueFull as error:
        raise HTTPException(429, str(error)) from None
    except BackendUnavailable as error:
        raise HTTPException(503, str(error)) from None


def describe(request: Request, run: RunState) -> dict:
    return {
        "id": run.id,
        "status": run.status,
        "position": runs_of(request).position(run.id),
        "spec": run.spec,
        "epochs": run.epochs,
        "events_url": f"/api/runs/{run.id}/events",
    }


@router.post("/runs", status_code=201)
async def create_run(request: Request, raw_spec: dict) -> dict:
    """Queue a run. The body is a run spec: {"model": "linreg" | "softmax" | "mlp", ...settings}."""
    return describe(request, submit(request, raw_spec))


@router.get("/runs")
async def list_runs(request: Request, limit: int = 50) -> list[dict]:
    rows = runs_of(request).store.recent(min(max(limit, 1), 500))
    return [
        {
            "id": r.id,
            "model": r.model,
            "status": r.status,
            "dataset": r.dataset,
            "spec": r.spec,
            "final": r.final,
            "created_at": r.created_at.isoformat(),
        }
        for r in rows
    ]


@router.get("/runs/{run_id}")
async def get_run(request: Request, run_id: str) -> dict:
    return describe(request, find(request, run_id))


@router.delete("/runs/{run_id}", status_code=202)
async def cancel_run(request: Request, run_id: str) -> dict:
    run = find(request, run_id)
    return {"id": run.id, "cancelling": runs_of(request).cancel(run_id)}


@router.get("/runs/{run_id}/events")
async def run_events(
    request: Request, run_id: str, last_event_id: Annotated[str | None, Header()] = None, after: int = 0
) -> EventSourceResponse:
    """Every event with an `id:`; reconnect with Last-Event-ID to get the rest exactly once."""
    run = find(request, run_id)
    stream = counted(run.log.follow(after, last_event_id), request.app.state.metrics.sse_clients)
    return EventSourceResponse(stream, ping=PING_SECONDS, headers={"X-Accel-Buffering": "no"})


async def counted(stream: AsyncIterator[bytes], gauge) -> AsyncIterator[bytes]:
    """The stream, counted in the open-connections gauge until it ends or its viewer leaves."""
    gauge.inc()
    try:
        async for chunk in stream:
            yield chunk
    finally:
        gauge.dec()


@router.get("/runs/{run_id}/export.json")
async def export_json(request: Request, run_id: str) -> JSONResponse:
    run = find(request, run_id)
    body = {
        "id": run.id,
        "spec": run.spec,
        "status": run.status,
        "events": [e.event for e in run.log.entries],
    }
    headers = {"Content-Disposition": f'attachment; filename="run-{run.id}.json"'}
    return JSONResponse(body, headers=headers)


@router.get("/runs/{run_id}/export.csv")
async def export_csv(request: Request, run_id: str) -> Response:
    """One row per epoch, then one per step event (the loss curve)."""
    run = find(request, run_id)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["kind", "epoch", "step", "loss", "train_acc", "test_loss", "test_acc", "seconds"])
    for entry in run.log.entries:
        e = entry.event
        if e["type"] == "epoch":
            writer.writerow(
                [
                    "epoch",
                    e["epoch"],
                    "",
                    e["train_loss"],
                    e["train_acc"],
                    e["test_loss"],
                    e["test_acc"],
                    e["seconds"],
                ]
            )
        elif e["type"] == "step":
            writer.writerow(["step", e["epoch"], e["step"], e["loss"], "", "", "", ""])
    headers = {"Content-Disposition": f'attachment; filename="run-{run.id}.csv"'}
    return Response(out.getvalue(), media_type="text/csv", headers=headers)
