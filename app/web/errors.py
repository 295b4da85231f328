"""Error responses that name the field and never echo more than a short excerpt of the input."""

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from app.training.specs import excerpt, shorten

WHERE = {"body", "query", "path", "header", "cookie"}  # FastAPI's first part of a location


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
