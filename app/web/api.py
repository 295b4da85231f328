"""JSON under /api: the same run spec as the CLI, and each run's events as server-sent events."""

import csv
import io
import json
from collections.abc import AsyncIterator, Iterator
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Request
from fastapi.responses import StreamingResponse
from sse_starlette import EventSourceResponse

from app.runs.service import Refused, RunService, RunState, events_of
from app.training.specs import SpecError, parse_spec

from .datasets import auto_dataset
from .errors import ERROR_RESPONSES
from .identity import is_admin, may_change, visitor_of
from .refusals import refusal_error, say

router = APIRouter(prefix="/api", tags=["runs"], responses=ERROR_RESPONSES)
PING_SECONDS = 10
LIST_LIMIT = 500


def runs_of(request: Request) -> RunService:
    return request.app.state.runs


def find(request: Request, run_id: str) -> RunState:
    run = runs_of(request).get(run_id) if len(run_id) <= 64 else None
    if run is None:
        raise HTTPException(404, f"no run with id {run_id[:64]!r}")
    return run


def owned(request: Request, run_id: str) -> RunState:
    """The run, if the caller may change it (its owner, or the admin); 403 otherwise."""
    run = find(request, run_id)
    if not may_change(request, run.owner):
        raise HTTPException(403, say(request, "problem.not_yours", id=run.id))
    return run


async def submit(request: Request, raw_spec: dict) -> RunState:
    """Validate and queue for the caller; the errors carry messages meant for the learner."""
    try:
        spec = parse_spec(raw_spec, strict=True, auto_dataset=auto_dataset(request))
    except SpecError as error:
        raise HTTPException(422, error.problems) from None
    try:
        return await runs_of(request).submit(spec.model_dump(), visitor_of(request), "", is_admin(request))
    except Refused as error:
        raise refusal_error(request, error) from None


def describe(request: Request, run: RunState) -> dict:
    return {
        "id": run.id,
        "status": run.status,
        "position": runs_of(request).position(run.id),
        "spec": run.spec,
        "epochs": run.epochs,
        "yours": may_change(request, run.owner),
        "events_url": f"/api/runs/{run.id}/events",
    }


@router.get("/me")
async def me(request: Request) -> dict:
    """Who the server takes you for: your visitor id and a token to send as `Authorization: Bearer ...`
    from scripts, so they own the runs they start (a browser has the same identity in a cookie)."""
    return {
        "visitor": visitor_of(request),
        "token": getattr(request.state, "visitor_token", ""),
        "admin": is_admin(request),
    }


@router.post("/runs", status_code=201)
async def create_run(request: Request, raw_spec: dict) -> dict:
    """Queue a run. The body is a run spec: {"model": "linreg" | "softmax" | "mlp", ...settings}."""
    return describe(request, await submit(request, raw_spec))


@router.get("/runs")
async def list_runs(request: Request, limit: int = 50) -> list[dict]:
    """Your runs, newest first (every visitor's for the admin)."""
    owner = None if is_admin(request) else visitor_of(request)
    rows = runs_of(request).store.recent(min(max(limit, 1), LIST_LIMIT), owner=owner)
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
    """Cancel a queued or running run: yours, or any for the admin."""
    run = owned(request, run_id)
    return {"id": run.id, "cancelling": runs_of(request).cancel(run_id)}


@router.get("/runs/{run_id}/events")
async def run_events(
    request: Request, run_id: str, last_event_id: Annotated[str | None, Header()] = None, after: int = 0
) -> EventSourceResponse:
    """Every event with an `id:`; reconnect with Last-Event-ID to get the rest exactly once."""
    run = find(request, run_id)
    return event_stream(request, run.log.follow(max(after, 0), (last_event_id or "")[:64] or None))


def event_stream(request: Request, stream: AsyncIterator[bytes]) -> EventSourceResponse:
    """An SSE response counted in the viewers gauge; a viewer that reads nothing for
    PLAYGROUND_SSE_SEND_TIMEOUT_S is dropped, so it cannot pin the server's memory."""
    settings = request.app.state.settings
    return EventSourceResponse(
        counted(stream, request.app.state.metrics.sse_clients),
        ping=PING_SECONDS,
        send_timeout=settings.sse_send_timeout_s,
        headers={"X-Accel-Buffering": "no"},
    )


async def counted(stream: AsyncIterator[bytes], gauge) -> AsyncIterator[bytes]:
    """The stream, counted in the open-connections gauge until it ends or its viewer leaves."""
    gauge.inc()
    try:
        async for chunk in stream:
            yield chunk
    finally:
        gauge.dec()


EXPORT_PIECE_BYTES = 64 * 1024  # what an export hands the response at a time


def attachment(name: str) -> dict:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


@router.get("/runs/{run_id}/export.json")
async def export_json(request: Request, run_id: str) -> StreamingResponse:
    """The run and all its events; written as it is read from the store, in a thread."""
    run = find(request, run_id)
    events = events_of(run, runs_of(request).store)
    head = {"id": run.id, "spec": run.spec, "status": run.status, "ending": ending_of(run)}
    body = json_with_events(head, events)
    return StreamingResponse(body, media_type="application/json", headers=attachment(f"run-{run.id}.json"))


def json_with_events(head: dict, events: Iterator[dict]) -> Iterator[bytes]:
    """In pieces of ~64 KB: each piece the response takes from this iterator costs a hop to a thread,
    and one per event made a 100,000-event run's export take 13-16 s."""
    piece = [json.dumps(head)[:-1].encode() + b', "events": [']
    size = 0
    for index, event in enumerate(events):
        piece.append((b"," if index else b"") + json.dumps(event).encode())
        size += len(piece[-1])
        if size > EXPORT_PIECE_BYTES:
            yield b"".join(piece)
            piece, size = [], 0
    piece.append(b"]}")
    yield b"".join(piece)


@router.get("/runs/{run_id}/export.csv")
async def export_csv(request: Request, run_id: str) -> StreamingResponse:
    """One row per epoch, then one per step event (the loss curve)."""
    run = find(request, run_id)
    rows = csv_rows(events_of(run, runs_of(request).store), preamble(run))
    return StreamingResponse(rows, media_type="text/csv", headers=attachment(f"run-{run.id}.csv"))


def ending_of(run: RunState) -> dict | None:
    """How the run ended: its status and the trainer's sentence (None while it is not over)."""
    if run.ending is None:
        return None
    return {key: run.ending.get(key) for key in ("status", "message", "code", "params")}


def preamble(run: RunState) -> list[str]:
    """'# name: value' lines that open the CSV: the run, each setting, and how it ended, so a file
    saved on its own still says what it holds (spreadsheets show them as rows; pandas: comment='#')."""
    lines = [f"run: {run.id}", f"status: {run.status}"]
    ending = ending_of(run)
    if ending and ending.get("message"):
        lines.append(f"ending: {ending['message']}")
    lines += [f"{name}: {json.dumps(value)}" for name, value in run.spec.items()]
    return ["# " + line.replace("\n", " ") for line in lines]


def csv_rows(events: Iterator[dict], preamble_lines: list[str]) -> Iterator[str]:
    out = io.StringIO()
    out.write("".join(line + "\r\n" for line in preamble_lines))
    writer = csv.writer(out)
    writer.writerow(["kind", "epoch", "step", "loss", "train_acc", "test_loss", "test_acc", "seconds"])
    for e in events:
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
        if out.tell() > EXPORT_PIECE_BYTES:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()
