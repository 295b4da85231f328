"""The Jinja2 environment shared by pages and by the fragments sent over SSE."""

from pathlib import Path

from fastapi.templating import Jinja2Templates

from .i18n import install

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"
STATIC_DIR = Path(__file__).resolve().parents[2] / "static"

templates = Jinja2Templates(directory=TEMPLATES_DIR)
templates.env.auto_reload = False  # templates ship with the code: no stat() of the file on every render
install(templates.env)


def render(name: str, **context) -> str:
    """A template rendered outside a request (SSE fragments)."""
    return templates.env.get_template(name).render(**context)
