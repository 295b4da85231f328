"""Why the server will not take a run now, as an HTTP status and sentences in the visitor's language."""

from fastapi import HTTPException, Request

from app.runs.service import (
    BackendUnavailable,
    OverBudget,
    QueueFull,
    Refused,
    StoreUnavailable,
    TooManyRuns,
)

from .i18n import language, messages

# (status, the catalog key of the title) per kind of refusal
KINDS = (
    (OverBudget, 422, "refused.too_big"),
    (TooManyRuns, 429, "refused.too_many"),
    (QueueFull, 429, "refused.busy"),
    (StoreUnavailable, 503, "refused.store"),
    (BackendUnavailable, 503, "refused.unavailable"),
)


def say(request: Request, key: str, fallback: str = "", **values) -> str:
    """The catalog's `key` in the visitor's language with values filled in, else `fallback`."""
    texts = messages().get(key)
    return texts[language(request)].format(**values) if texts else fallback


def refusal(request: Request, error: Refused) -> tuple[int, str, list[str], dict]:
    """(status, title, problems, headers) for a refused submission."""
    status, title_key = next((s, key) for kind, s, key in KINDS if isinstance(error, kind))
    if isinstance(error, OverBudget):
        problems = [say(request, f"problem.{code}", "", **values) for code, values in error.problems]
    else:
        problems = [say(request, f"problem.{error.code}", str(error), **error.values)]
    headers = {"Retry-After": str(error.retry_after_s)} if isinstance(error, TooManyRuns) else {}
    return status, say(request, title_key), problems, headers


def refusal_error(request: Request, error: Refused) -> HTTPException:
    """The JSON API's answer to a refusal: budget problems as a list (like 422's other problems), any
    other refusal as one sentence."""
    status, _, problems, headers = refusal(request, error)
    detail = problems if isinstance(error, OverBudget) else "; ".join(problems)
    return HTTPException(status, detail, headers=headers)
