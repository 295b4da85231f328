"""A finished run taken home: `GET /api/runs/{id}/notebook.ipynb` writes the Jupyter notebook that trains
it again on its own (app/notebook), and the live panel's link to it appears once the run has finished.

Anyone who may look at a run (anyone with its link) may take its notebook, like its CSV and JSON. A run
still queued or running has no notebook yet: 409, saying so in the visitor's language. The notebook
speaks the visitor's language too (`?lang=` first, like every page). Building it reads the training
core's files and imports no torch; it runs in a thread, as the store reads do.
"""

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from app.notebook import notebook_text
from app.runs.service import FINISHED, RunState

from .api import attachment, find
from .errors import ERROR_RESPONSES, Message, Problems
from .i18n import language, tr, tr_coded
from .views import page, runs_of

MEDIA_TYPE = "application/x-ipynb+json"


def json_error(model, description: str) -> dict:
    """An error answered as JSON, declared with its own media type: given as a `model`, FastAPI would
    describe it with the route's (the notebook's)."""
    return {
        "description": description,
        "content": {"application/json": {"schema": model.model_json_schema()}},
    }


RESPONSES = {
    200: {
        "description": "the notebook, as an .ipynb file (nbformat 4 JSON) to save",
        "content": {MEDIA_TYPE: {"schema": {"type": "object", "description": "a Jupyter notebook"}}},
    },
    404: json_error(Message, ERROR_RESPONSES[404]["description"]),
    409: json_error(Message, "the run has not finished yet (queued or running)"),
    422: json_error(Problems, "a language other than en or zh"),
}
router = APIRouter(tags=["runs"])


class NotebookResponse(Response):
    media_type = MEDIA_TYPE


@router.get(
    "/api/runs/{run_id}/notebook.ipynb",
    response_class=NotebookResponse,
    responses=RESPONSES,
    summary="The run as a Jupyter notebook",
)
async def run_notebook(
    request: Request,
    run_id: str,
    lang: Annotated[
        Literal["en", "zh"] | None,
        Query(description="the notebook's language; left out: the visitor's (cookie, Accept-Language)"),
    ] = None,
) -> NotebookResponse:
    """A finished run as a notebook that trains it again on its own: its settings, the data made or read
    the same way, the model and loop as the playground's own source, the curves, and the run's own last
    epoch to compare. Only torch, numpy, matplotlib and scikit-learn are imported."""
    run = find(request, run_id)
    if run.status not in FINISHED:
        status = tr(request, f"badge.{run.status}")
        raise HTTPException(409, tr(request, "notebook.not_finished", id=run.id, status=status))
    result = await asyncio.to_thread(result_of, request, run)
    text = await asyncio.to_thread(notebook_text, run.spec, result, language(request))
    name = f"d2l-{run.spec.get('model', 'run')}-{run.id}.ipynb"
    return NotebookResponse(text, headers=attachment(name))


def result_of(request: Request, run: RunState) -> dict:
    """What the notebook says of how the run went: how it ended, in the visitor's language where the
    trainer gave it a code; its epochs; and, for a spec that says "auto", the dataset it trained on."""
    ending = run.ending or {}
    message = ending.get("message", "")
    if ending.get("code"):
        message = tr_coded(request, f"js.finish_{ending['code']}", message, **(ending.get("params") or {}))
    dataset = (run.started or {}).get("dataset", "")
    if not dataset and run.spec.get("dataset") == "auto":
        row = runs_of(request).store.get(run.id)
        dataset = row.dataset if row is not None else ""
    return {"id": run.id, "status": run.status, "message": message, "epochs": run.epochs, "dataset": dataset}


@router.get("/play/runs/{run_id}/notebook-link", response_class=HTMLResponse, include_in_schema=False)
async def notebook_link(request: Request, run_id: str):
    """The live panel's link to the notebook, asked for when the run's `finished` event arrives: the
    link once the run has finished, else the placeholder that asks again."""
    run = find(request, run_id)
    return page(request, "fragments/notebook_link.html", run=run, finished=run.status in FINISHED)
