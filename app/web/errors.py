"""Error responses that name the field and never echo more than a short excerpt of the input."""

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from app.training.specs import excerpt, shorten

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
