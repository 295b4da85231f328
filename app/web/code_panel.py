"""The code that is running (issue 16): beside each playground and on a run's page, the source of the
functions the trainer calls for the chosen model and implementation, highlighted here with Pygments (CSS
classes, no JavaScript), each part headed by the book section it follows; a pitfall switch shows the line
it changes, before and after, and why it fails.

The source comes from app/training/code.py, which cuts it out of the training core's own files (the web
process never imports torch). Highlighting is cached per (model, impl, pitfalls, language).

Pages draw the panel with the template global `code_panel(model, settings, folded=...)`; when the settings
form changes the implementation or a pitfall, htmx asks GET /code-panel for the panel's body again.
"""

from collections.abc import Mapping
from functools import lru_cache

import jinja2
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup, escape
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

from app.training import code
from app.training.specs import SpecError, parse_spec

from .errors import error_page, wants_page
from .forms import MODELS, PITFALLS
from .i18n import current_language, language, messages, tr
from .templating import STATIC_DIR, render, templates
from .wording import localized

router = APIRouter(include_in_schema=False)

STYLE = "xcode"  # Pygments' light styles: the lowest contrast of its colours here is 5.9:1 (WCAG AA: 4.5)
CSS_CLASS = "highlight"
STYLESHEET = STATIC_DIR / "css" / "code.css"  # = stylesheet(), written by `python3 -m app.web.code_panel`
FOLD_PARAM = "code"  # ?code=1 opens the panel, ?code=0 folds it
LEXER = PythonLexer()


def stylesheet() -> str:
    """The CSS of the chosen Pygments style, as static/css/code.css holds it."""
    return HtmlFormatter(style=STYLE, cssclass=CSS_CLASS).get_style_defs(f".{CSS_CLASS}") + "\n"


def highlighted(source: str, marked: tuple[int, ...] = ()) -> Markup:
    """A block of Python as <div class="highlight"><pre>...</pre></div>; `marked` lines (1-based) get the
    style's highlighted-line background."""
    formatter = HtmlFormatter(style=STYLE, cssclass=CSS_CLASS, hl_lines=list(marked))
    return Markup(highlight(source, LEXER, formatter))


def highlighted_line(line: str) -> Markup:
    """One line of Python as coloured spans, for a <code class="highlight">."""
    return Markup(highlight(line, LEXER, HtmlFormatter(style=STYLE, nowrap=True)).rstrip("\n"))


def marked_lines(source: str, change: code.PitfallChange) -> tuple[int, ...]:
    """The line numbers in `source` of the line a pitfall changes and, for a line the switch skips
    (`if not switch:`), the statements under it."""
    lines = source.splitlines()
    marked = []
    for number, text in enumerate(lines, start=1):
        if text.strip() == change.line:
            marked.append(number)
            if not change.after:
                marked += range(number + 1, number + 1 + len(change.before.splitlines()))
    return tuple(marked)


def relative_path(source: code.Source) -> str:
    return source.path.relative_to(code.ROOT).as_posix()


@lru_cache(maxsize=256)
def panel_body(model: str, impl: str, on: tuple[str, ...], lang: str) -> Markup:
    """The panel's content for (model, impl) with the pitfalls `on`, in `lang`: highlighted once."""
    changes = {name: code.pitfall_change(name, model, impl) for name in code.pitfalls_for(model, impl)}
    blocks = []
    for block in code.blocks(model, impl):
        source = block.source
        marked = tuple(n for name in on for n in marked_lines(source, changes[name]))
        files = list(dict.fromkeys(relative_path(obj) for obj in block.objects))
        blocks.append({"block": block, "html": highlighted(source, marked), "files": files})
    pitfalls = [
        {
            "name": name,
            "change": change,
            "before": highlighted_line(change.before),
            "after": highlighted_line(change.after) if change.after else None,
        }
        for name, change in changes.items()
    ]
    titles = {"model": messages()[f"model.{model}.title"][lang], "impl": messages()[f"play.{impl}"][lang]}
    return Markup(
        render(
            "fragments/code_body.html",
            lang=lang,
            intro=messages()["code.intro"][lang].format(**titles),
            blocks=blocks,
            on=[p for p in pitfalls if p["name"] in on],
            off=[p for p in pitfalls if p["name"] not in on],
        )
    )


def warm_panels() -> None:
    """Highlight every (model, impl)'s plain panel in both languages ahead of the first visitor (a
    start-up thread): a first render costs 12-31 ms each, and the first of all about 0.2 s."""
    for model, impl in code.SECTIONS:
        for lang in ("en", "zh"):
            panel_body(model, impl, (), lang)


def value_of(setting) -> object:
    """A setting's value, from a run spec ({"impl": "concise"}) or from a form's controls
    ({"impl": {"value": "concise"}})."""
    return setting.get("value") if isinstance(setting, Mapping) else setting


@jinja2.pass_context
def code_panel(
    context, model: str, settings: Mapping, folded: bool = False, follows_form: bool = True
) -> Markup:
    """The folding panel with the code `settings` train (a run's spec, or a playground's controls).

    Open unless `folded` (then ?code=1 opens it); ?code=0 folds it. With `follows_form`, the panel asks
    for its body again whenever the page's settings form changes the implementation or a pitfall.
    """
    impl = value_of(settings.get("impl")) or "scratch"
    if (model, impl) not in code.SECTIONS:
        return Markup("")
    on = tuple(name for name in code.pitfalls_for(model, impl) if value_of(settings.get(name)))
    lang = current_language(context)
    request = context.get("request")
    asked = request.query_params.get(FOLD_PARAM) if request is not None else None
    is_open = asked == "1" if folded else asked != "0"
    return Markup(
        render(
            "fragments/code_panel.html",
            lang=lang,
            body=panel_body(model, impl, on, lang),
            open=is_open,
            follows_form=follows_form,
            class_mode=bool(context.get("class_mode")),
        )
    )


templates.env.globals["code_panel"] = code_panel


@router.get("/code-panel", response_class=HTMLResponse)
async def code_panel_body(request: Request):
    """The panel's body for ?model=&impl= and the pitfall switches (on, true, 1 or yes; left out: off),
    as the settings form sends them. 422 names each bad value, in the visitor's language."""
    query = request.query_params
    raw = {"model": query.get("model")}
    raw |= {name: query[name] for name in ("impl", *PITFALLS) if name in query}
    try:
        spec = parse_spec(raw, auto_dataset="digits")  # the dataset does not change the code
    except SpecError as error:
        return refused(request, localized(request, error.problems))
    on = tuple(name for name in code.pitfalls_for(spec.model, spec.impl) if getattr(spec, name, False))
    return HTMLResponse(panel_body(spec.model, spec.impl, on, language(request)))


def refused(request: Request, problems: list[str]) -> HTMLResponse:
    """422: a page for a browser that opened the address, else the panel's body saying what to change
    (htmx swaps a 422 in, base.html)."""
    title = tr(request, "code.problem")
    if wants_page(request) and "hx-request" not in request.headers:
        return error_page(request, 422, title, " ".join(problems))
    items = "".join(f"<li>{escape(problem)}</li>" for problem in problems)
    html = f'<div class="code-problem" role="alert"><p>{escape(title)}</p><ul>{items}</ul></div>'
    return HTMLResponse(html, status_code=422)


assert set(MODELS) == {model for model, _ in code.SECTIONS}  # every playground has its code listed


if __name__ == "__main__":  # write static/css/code.css again, after changing STYLE
    STYLESHEET.write_text(stylesheet(), encoding="utf-8")
