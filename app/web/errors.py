"""Error responses: JSON for the API, a page in the visitor's language for a browser.

- A refused request body names the field and never echoes more than a short excerpt of the input (422).
- An unknown address (404) or a method it does not take (405): a browser (its `Accept` names text/html,
  outside /api) gets templates/error.html in its language with a link home; the API, scripts and
  `Accept: application/json` get FastAPI's JSON as before.
- An unexpected error (500) the same way: a page or `{"detail": ...}` in the visitor's language, never a
  traceback (Starlette's ServerErrorMiddleware calls `server_error`, then re-raises for the server's log).
"""

import logging
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.training.specs import excerpt, shorten

from .i18n import language, messages
from .templating import templates

log = logging.getLogger(__name__)

WHERE = {"body", "query", "path", "header", "cookie"}  # FastAPI's first part of a location


class Problems(BaseModel):
    """A refused request: one line per thing to change, each naming its field."""

    detail: list[str] = Field(description="one readable line per problem, in the visitor's language")


class Message(BaseModel):
    """Why a request was refused, in one sentence in the visitor's language."""

    detail: str


# How the JSON API's refusals look, for its OpenAPI description (FastAPI's own 422 shape is replaced).
ERROR_RESPONSES: dict = {
    403: {"model": Message, "description": "not yours to change, or a cross-site request"},
    404: {"model": Message, "description": "no such run or race"},
    413: {"model": Message, "description": "the request body is larger than the server accepts"},
    422: {"model": Problems, "description": "bad settings, or over the work budget: what to change"},
    429: {"model": Message, "description": "too many runs in flight, or the queue is full"},
    503: {"model": Message, "description": "the run store or the broker cannot take runs now"},
}


def install(app: FastAPI) -> None:
    """Register the app's exception handlers."""
    app.add_exception_handler(RequestValidationError, refuse_invalid_request)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(SQLAlchemyError, store_error)
    app.add_exception_handler(Exception, server_error)


def wants_page(request: Request) -> bool:
    """A browser loading a page: outside the JSON API, and its Accept names HTML (scripts, htmx and
    `Accept: application/json` do not)."""
    path = request.url.path
    if path == "/api" or path.startswith("/api/"):
        return False
    return "text/html" in request.headers.get("accept", "").lower()


def error_page(request: Request, status: int, title: str, message: str, detail: str = "", headers=None):
    """templates/error.html: what went wrong in the visitor's language, the technical detail folded."""
    context = {"title": title, "message": message, "detail": detail}
    return templates.TemplateResponse(request, "error.html", context, status_code=status, headers=headers)


def say(request: Request, key: str, **values) -> str:
    return messages()[key][language(request)].format(**values)


async def http_error(request: Request, error: StarletteHTTPException) -> Response:
    """404 and 405 as a page for a browser; any other status, and every answer to the API, as before."""
    if error.status_code not in (404, 405) or not wants_page(request):
        return await http_exception_handler(request, error)
    path = shorten(request.url.path, 80)
    if error.status_code == 404:
        title, message = say(request, "error.not_found"), say(request, "errorpage.not_found", path=path)
    else:
        title = say(request, "errorpage.method.title")
        message = say(request, "errorpage.method", path=path, method=shorten(request.method, 16))
    default = HTTPStatus(error.status_code).phrase
    detail = "" if error.detail in (None, default) else shorten(str(error.detail), 300)
    return error_page(request, error.status_code, title, message, detail, error.headers)


async def store_error(request: Request, error: SQLAlchemyError) -> Response:
    """The store failed a read or a write that a route did not expect to fail (a read-only or full disk, a
    database gone): 503 saying so in the visitor's language, never a traceback to the visitor."""
    log.error("the store failed on %s: %s", request.url.path, shorten(str(error), 300))
    message = say(request, "problem.store_unavailable")
    if not wants_page(request):
        return JSONResponse({"detail": message}, status_code=503)
    return error_page(request, 503, say(request, "refused.store"), message)


async def server_error(request: Request, error: Exception) -> Response:
    """500 without a traceback: a page for a browser, else `{"detail": ...}`, in the visitor's language."""
    try:
        message = say(request, "errorpage.server")
        if not wants_page(request):
            return JSONResponse({"detail": message}, status_code=500)
        return error_page(request, 500, say(request, "errorpage.server.title"), message)
    except Exception:  # even the error page failed: the plainest answer, still no traceback
        log.exception("the 500 page could not be made")
        return PlainTextResponse("Internal Server Error", status_code=500)


async def refuse_invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
    """422 with one line per bad field: FastAPI's own answer would echo the whole input, and fail
    with a 500 when the input holds a NaN (JSON has no NaN)."""
    return JSONResponse({"detail": [problem_line(problem) for problem in error.errors()]}, status_code=422)


def problem_line(problem: dict) -> str:
    """'values.0: Input should be a valid number (got True)', quoting only an excerpt of the input."""
    if problem["type"] == "json_invalid":  # loc is ('body', character); the input is not kept
        return f"body: not valid JSON at character {problem['loc'][-1]} ({problem['ctx']['error']})"
    message = shorten(problem["msg"].removeprefix("Value error, "), 200)
    return f"{location(problem['loc'])}: {message} (got {excerpt(problem.get('input'))})"


def location(loc: tuple) -> str:
    """('body', 'values', 0) -> 'values.0'; the body itself stays 'body'."""
    parts = [str(part) for part in loc]
    if len(parts) > 1 and parts[0] in WHERE:
        parts = parts[1:]
    return shorten(".".join(parts) or "body")
