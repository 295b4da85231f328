"""The exercise pages: the course's questions as self-checking items, answered through htmx.

Content is data (app/exercises/sections/*.yaml, Chinese and English); the language comes from
?lang=, then the `lang` cookie, then Accept-Language, and a choice made with ?lang= is remembered.
Progress and score live in the browser (static/js/exercises.js).
"""

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse

from app.exercises.content import check_answer, find_item, load_sections

from .templating import templates

router = APIRouter(include_in_schema=False)
LANGUAGES = ("en", "zh")


def language(request: Request) -> str:
    chosen = request.query_params.get("lang") or request.cookies.get("lang")
    if chosen in LANGUAGES:
        return chosen
    accepted = request.headers.get("accept-language", "").lower()
    return "zh" if accepted.startswith("zh") else "en"


def render(request: Request, name: str, status_code: int = 200, **context) -> HTMLResponse:
    lang = language(request)
    response = templates.TemplateResponse(request, name, {"lang": lang, **context}, status_code=status_code)
    if request.query_params.get("lang") in LANGUAGES:
        response.set_cookie("lang", lang, max_age=365 * 24 * 3600, samesite="lax")
    return response


def preset_link(item) -> str | None:
    """The playground page that shows the item's effect in a real run."""
    if not item.preset:
        return None
    query = {
        key: str(value).lower() if isinstance(value, bool) else value for key, value in item.preset.items()
    }
    model = query.pop("model")
    return f"/play/{model}?{urlencode(query)}"


@router.get("/exercises", response_class=HTMLResponse)
async def exercises_index(request: Request):
    return render(request, "exercises_index.html", sections=load_sections())


@router.get("/exercises/{section_id}", response_class=HTMLResponse)
async def exercise_section(request: Request, section_id: str):
    sections = {section.id: section for section in load_sections()}
    if section_id not in sections:
        raise HTTPException(404, f"no exercise section {section_id!r}; try linreg, softmax or mlp")
    return render(request, "exercises_section.html", section=sections[section_id], preset_link=preset_link)


@router.post("/exercises/check/{item_id}", response_class=HTMLResponse)
async def check(request: Request, item_id: str, answer: Annotated[str, Form(max_length=200)] = ""):
    """A feedback fragment: right or wrong, and the explanation with its evidence."""
    try:
        section, item = find_item(item_id)
    except KeyError:
        raise HTTPException(404, f"no exercise {item_id!r}") from None
    if not answer.strip():
        return render(request, "fragments/feedback.html", 422, item=item, verdict="empty")
    verdict = "right" if check_answer(item, answer) else "wrong"
    return render(request, "fragments/feedback.html", item=item, section=section, verdict=verdict)
