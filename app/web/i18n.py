"""Interface strings in English and Chinese, from one data file, and the visitor's language."""

from functools import lru_cache
from pathlib import Path
from urllib.parse import parse_qs, urlencode

import jinja2
import markupsafe
import yaml
from fastapi import Request
from starlette.datastructures import MutableHeaders

LANGUAGES = ("en", "zh")
MESSAGES_FILE = Path(__file__).with_name("messages.yaml")


def catalog_files() -> list[Path]:
    """messages.yaml, then one messages_<part>.yaml per part of the site that keeps its own strings."""
    return [MESSAGES_FILE, *sorted(MESSAGES_FILE.parent.glob("messages_*.yaml"))]


@lru_cache
def messages() -> dict[str, dict[str, str]]:
    catalog: dict[str, dict[str, str]] = {}
    for path in catalog_files():
        for key, texts in yaml.safe_load(path.read_text(encoding="utf-8")).items():
            if set(texts) != set(LANGUAGES):
                raise ValueError(f"{path.name}: {key} needs exactly {LANGUAGES}")
            if key in catalog:
                raise ValueError(f"{path.name}: {key} is already defined in another catalog file")
            catalog[key] = texts
    return catalog


def language(request: Request) -> str:
    """?lang= first, then the remembered cookie, then the browser's Accept-Language."""
    chosen = request.query_params.get("lang") or request.cookies.get("lang")
    if chosen in LANGUAGES:
        return chosen
    return "zh" if request.headers.get("accept-language", "").lower().startswith("zh") else "en"


def tr(request: Request, key: str, **values) -> str:
    """The catalog text of `key` in the visitor's language, with {placeholders} filled in."""
    text = messages()[key][language(request)]
    return text.format(**values) if values else text


def tr_coded(request: Request, key: str, fallback: str, **values) -> str:
    """A sentence the training core wrote with a code: the catalog's `key` in the visitor's language
    where the catalog has it, else the core's own English (`fallback`)."""
    return tr(request, key, **values) if key in messages() else fallback


def js_messages(request: Request) -> dict[str, str]:
    """The catalog entries the JavaScript needs (keys starting with "js."), in the visitor's language."""
    lang = language(request)
    return {key: texts[lang] for key, texts in messages().items() if key.startswith("js.")}


@jinja2.pass_context
def current_language(context) -> str:
    return context.get("lang") or (language(context["request"]) if "request" in context else "en")


@jinja2.pass_context
def translate(context, key: str) -> str:
    return messages()[key][current_language(context)]


def both(key: str, **values) -> markupsafe.Markup:
    """Both languages side by side, for fragments encoded once for every viewer (SSE); CSS shows the
    one matching the page's lang attribute."""
    parts = []
    for lang in LANGUAGES:
        text = markupsafe.escape(messages()[key][lang]).format(**values)  # Markup.format escapes values
        parts.append(f'<span lang="{lang}" class="l-{lang}">{text}</span>')
    return markupsafe.Markup("".join(parts))


class RememberLanguage:
    """A language picked with ?lang= stays picked on every page: a cookie for a year.

    Plain ASGI rather than @app.middleware("http"): Starlette's BaseHTTPMiddleware relays every chunk
    of a streaming response through an extra task and memory stream, which doubled the server's CPU
    per SSE delivery (bench/stream.py, 500 viewers: 75 against 33 us) although only the headers matter.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        chosen = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("lang", [""])[0]
        if scope["type"] != "http" or chosen not in LANGUAGES:
            return await self.app(scope, receive, send)
        cookie = f"lang={chosen}; Max-Age={365 * 24 * 3600}; Path=/; SameSite=lax"

        async def send_with_cookie(message):
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append("set-cookie", cookie)
            await send(message)

        await self.app(scope, receive, send_with_cookie)


@jinja2.pass_context
def language_link(context, lang: str) -> str:
    """This page in `lang`: the same query (a playground's settings stay), with lang= replaced."""
    request = context.get("request")
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"] if request else []
    return "?" + urlencode([*query, ("lang", lang)])


def install(environment: jinja2.Environment) -> None:
    environment.globals["language_link"] = language_link
    environment.globals["both"] = both
    environment.globals["t"] = translate
    environment.globals["current_language"] = current_language
