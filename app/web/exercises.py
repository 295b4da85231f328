"""The exercise pages: the course's questions as self-checking items, answered through htmx.

Content is data (app/exercises/sections/*.yaml, Chinese and English, code marked with backticks); the
language comes from app/web/i18n.py, and a choice made with ?lang= is remembered in a cookie.
Progress and score live in the browser (static/js/exercises.js).
"""

import re
from typing import Annotated
from urllib.parse import urlencode

import markupsafe
from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse

from app.exercises.answers import ACCEPTED_FORMS
from app.exercises.content import answer_form, find_item, grade, load_sections
from app.exercises.display import rows, tidy
from app.runs.demo_process import DemoInputRefused, DemosBusy, DemoTooSlow

from .i18n import language, tr, tr_coded
from .templating import templates

router = APIRouter(include_in_schema=False)

# The inputs each live demo offers, with the values it starts from (the course's own examples); each
# field's label is the catalog's demo_field.<demo>.<field>.
DEMO_FIELDS = {
    "mm_vs_mul": {"A": "1 2; 3 4", "B": "1 2; 3 4"},
    "manual_seed": {"seed": "1", "n": "4"},
    "grad_accumulation": {"x": "1 2 3", "w": "1", "calls": "3"},
    "view_shapes": {"y": "1 2 3 4"},
    "squared_loss": {"y_hat": "2.33 1.07 1.23", "y": "3.14 0.98 1.32"},
    "gather_accuracy": {"y_hat": "0.1 0.3 0.6; 0.3 0.2 0.5", "y": "0 2"},
    "softmax_shift": {"scores": "1 2 3", "c": "99", "k": "2"},
    "activations": {"lo": "-8", "hi": "8", "points": "81"},
    "backward_weights": {"x": "1 2 3", "w": "0.1 1 10"},
    "data_iter": {"n": "20", "batch_size": "4"},
}


CODE_SPAN = re.compile(r"`([^`]+)`")


def rich(text: str) -> markupsafe.Markup:
    """Content text as HTML: escaped, with `code` between backticks set as <code> (KaTeX, which typesets
    \\( math \\) in the browser, leaves code alone)."""
    escaped = str(markupsafe.escape(text))
    return markupsafe.Markup(CODE_SPAN.sub(lambda match: f"<code>{match.group(1)}</code>", escaped))


templates.env.globals["rich"] = rich  # the class quiz shows the same items


def render(request: Request, name: str, status_code: int = 200, **context) -> HTMLResponse:
    context = {"lang": language(request), "rich": rich, **context}
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def preset_link(item) -> str | None:
    """The playground page that shows the item's effect in a real run."""
    if not item.preset:
        return None
    query = {
        key: str(value).lower() if isinstance(value, bool) else value for key, value in item.preset.items()
    }
    model = query.pop("model")
    if item.race:  # the playground opens its Race box on these values
        query |= {"race_vary": item.race.vary, "race_values": ",".join(map(str, item.race.values))}
        return f"/play/{model}?{urlencode(query)}#race"
    return f"/play/{model}?{urlencode(query)}"


@router.get("/exercises", response_class=HTMLResponse)
async def exercises_index(request: Request):
    return render(request, "exercises_index.html", sections=load_sections())


@router.get("/exercises/{section_id}", response_class=HTMLResponse)
async def exercise_section(request: Request, section_id: str):
    sections = {section.id: section for section in load_sections()}
    if section_id not in sections:
        raise HTTPException(404, f"no exercise section {section_id!r}; try linreg, softmax or mlp")
    return render(
        request,
        "exercises_section.html",
        section=sections[section_id],
        preset_link=preset_link,
        demo_fields=DEMO_FIELDS,
        answer_form=answer_form,
    )


@router.post("/exercises/check/{item_id}", response_class=HTMLResponse)
async def check(request: Request, item_id: str, answer: Annotated[str, Form(max_length=200)] = ""):
    """A feedback fragment: right or wrong with the explanation and its evidence, or (422) the answer
    could not be read, with the forms this question accepts."""
    try:
        section, item = find_item(item_id)
    except KeyError:
        raise HTTPException(404, f"no exercise {item_id!r}") from None
    if not answer.strip():
        return render(request, "fragments/feedback.html", 422, item=item, verdict="empty")
    verdict = grade(item, answer)
    if verdict == "unreadable":  # say which forms it reads, never "Not yet"
        form = answer_form(item)
        forms = ACCEPTED_FORMS.get(form, [])
        return render(
            request, "fragments/feedback.html", 422, item=item, verdict=verdict, form=form, forms=forms
        )
    return render(request, "fragments/feedback.html", item=item, section=section, verdict=verdict)


@router.post("/exercises/demo/{name}", response_class=HTMLResponse)
async def demo(request: Request, name: str):
    """Run a live demo on the learner's numbers (in the demo process, with real torch). The demo
    process bounds the input's size and the answer's; this waits a few seconds at most."""
    if name not in DEMO_FIELDS:
        raise HTTPException(404, f"no demo {name!r}")
    form = await request.form()
    params = {key: str(form[key]) for key in DEMO_FIELDS[name] if form.get(key, "") != ""}
    try:
        result = await request.app.state.demos.run(name, params)
    except DemoInputRefused as error:
        problem = tr_coded(request, f"demo_problem.{error.code}", str(error), **error.params)
        return demo_problem(request, name, problem, 422)
    except DemoTooSlow as error:
        return demo_problem(request, name, tr(request, "demo.too_slow", seconds=f"{error.seconds:g}"), 422)
    except DemosBusy as error:
        seconds = max(1, round(error.seconds))
        problem = tr(request, "demo.busy", seconds=seconds)
        return demo_problem(request, name, problem, 429, headers={"Retry-After": str(seconds)})
    return render(
        request,
        "fragments/demo_result.html",
        demo_name=name,
        rows=rows(result, leave_out=("curves",)),
        curves=tidy(result["curves"]) if "curves" in result else None,
    )


def demo_problem(
    request: Request, name: str, problem: str, status_code: int, headers: dict | None = None
) -> HTMLResponse:
    """The demo's fragment saying what went wrong; 422 and 429 are swapped into the page (base.html)."""
    response = render(request, "fragments/demo_result.html", status_code, demo_name=name, problem=problem)
    response.headers.update(headers or {})
    return response
