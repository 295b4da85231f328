"""Cross-site request refusal, security headers and the request-body cap: one plain ASGI layer, outermost.

- A state-changing request (POST, PUT, PATCH, DELETE) whose `Origin` names another origin than the
  request's own (scheme, host and port; `Origin: null` included), or that carries no Origin but a
  `Sec-Fetch-Site` of `cross-site` or `same-site`, is refused with 403. A request with neither header
  (curl, httpx, the CLI) passes: a browser sends at least one of them with every cross-site form or fetch.
- Every response gets a Content-Security-Policy (the API docs included: Swagger UI is vendored and started
  from a file), X-Content-Type-Options, Referrer-Policy and X-Frame-Options, unless the route set its own.
- A body larger than `max_body_bytes` is refused with 413: at once when Content-Length says so (nothing
  read), or as soon as a body without a length (chunked) grows past the cap while the app reads it; the app
  then sees the client go away, and whatever it answers is dropped. Nothing here buffers the body; uvicorn
  discards the rest of it and keeps the connection.

Refusals speak the visitor's language: `{"detail": ...}` under /api, a small HTML page (a fragment for htmx)
elsewhere. Plain ASGI, like RememberLanguage: a BaseHTTPMiddleware would relay every SSE chunk through a task.
"""

from urllib.parse import urlsplit

import markupsafe
from fastapi import FastAPI, Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from app.settings import Settings
from app.web.i18n import language, messages

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}

# No inline or eval'd script anywhere (JSON data blocks are not executed); inline styles stay allowed because
# htmx adds its indicator <style> and uPlot and KaTeX position their pieces with style attributes.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'self'; "
    "form-action 'self'"
)

COMMON_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
)
HEADERS = ((b"content-security-policy", CONTENT_SECURITY_POLICY.encode()), *COMMON_HEADERS)


def install(app: FastAPI, settings: Settings) -> None:
    """Wrap the app's whole middleware stack in the security layer.

    Outside even Starlette's ServerErrorMiddleware (which app.add_middleware cannot reach), so a refusal
    comes before anything else runs and the 500 page of an unexpected error carries the headers too.
    """
    build = app.build_middleware_stack

    def build_secured_stack():
        return Security(build(), max_body_bytes=settings.max_body_bytes)

    app.build_middleware_stack = build_secured_stack


def header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def origin_of(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an origin such as `https://example.org:8443`; None when it is not one."""
    try:
        parts = urlsplit(url.strip())
        scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
        port = parts.port or DEFAULT_PORTS.get(scheme)
    except ValueError:
        return None
    if not scheme or not host or port is None:
        return None
    return scheme, host, port


def own_origin(scope) -> tuple[str, str, int] | None:
    """The origin this request was sent to: its scheme and the Host header (else the server's address)."""
    scheme = scope.get("scheme", "http")
    host = header(scope, b"host")
    if not host and scope.get("server"):
        address, port = scope["server"][0], scope["server"][1]
        host = f"[{address}]:{port}" if ":" in str(address) else f"{address}:{port}"
    return origin_of(f"{scheme}://{host}") if host else None


def cross_site(scope) -> bool:
    """A browser says this request comes from another origin (Origin) or another site (Sec-Fetch-Site)."""
    origin = header(scope, b"origin")
    if origin is not None:
        claimed = origin_of(origin)  # `null` (sandboxed frames, some redirects) parses to None: refused
        return claimed is None or claimed != own_origin(scope)
    # Without Origin: `same-site` may be another port or subdomain, so another origin; `none` is a typed URL.
    return (header(scope, b"sec-fetch-site") or "").strip().lower() in ("cross-site", "same-site")


def content_length(scope) -> int | None:
    value = header(scope, b"content-length")
    if value is None or not value.strip().isdigit():
        return None
    return int(value)


def refusal(scope, status: int, key: str, **values) -> Response:
    """A 403 or 413 in the visitor's language: JSON under /api, an HTML fragment for htmx, else a page."""
    request = Request(scope)
    lang = language(request)
    catalog = messages()
    text = catalog[key][lang].format(**values)
    if scope["path"] == "/api" or scope["path"].startswith("/api/"):
        return JSONResponse({"detail": text}, status_code=status)
    title, home = catalog[f"{key}.title"][lang], catalog["security.home"][lang]
    escape = markupsafe.escape
    notice = f'<p class="notice error" role="alert" id="error-message">{escape(text)}</p>'
    if header(scope, b"hx-request") == "true":
        return HTMLResponse(
            f'<div class="notice error" role="alert"><p><strong>{escape(title)}</strong></p>'
            f"<p>{escape(text)}</p></div>",
            status_code=status,
        )
    page = (
        f'<!doctype html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)} - d2l playground</title>\n"
        '<link rel="icon" href="data:,">\n<link rel="stylesheet" href="/static/css/app.css">\n</head>\n'
        f'<body>\n<main id="main">\n<h1>{escape(title)}</h1>\n{notice}\n'
        f'<p><a href="/">{escape(home)}</a></p>\n</main>\n</body>\n</html>\n'
    )
    return HTMLResponse(page, status_code=status)


class Security:
    """The outermost layer: refuses cross-site writes and oversized bodies, adds the security headers."""

    def __init__(self, app, max_body_bytes: int):
        self.app, self.max_body_bytes = app, max_body_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_secured(message):
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", ())}
                missing = [(name, value) for name, value in HEADERS if name not in present]
                if missing:
                    message = {**message, "headers": [*message.get("headers", ()), *missing]}
            await send(message)

        if scope["method"] in UNSAFE_METHODS and cross_site(scope):
            return await refusal(scope, 403, "security.cross_site")(scope, receive, send_secured)
        length = content_length(scope)
        if length is not None and length > self.max_body_bytes:
            return await self.too_large(scope, receive, send_secured)
        unknown_length = length is None and (
            scope["method"] not in ("GET", "HEAD") or header(scope, b"transfer-encoding") is not None
        )
        if unknown_length:  # chunked: count it as it is read
            return await self.capped(scope, receive, send_secured)
        await self.app(scope, receive, send_secured)  # uvicorn holds a body to its stated length

    async def too_large(self, scope, receive, send):
        limit = f"{self.max_body_bytes:,}"
        await refusal(scope, 413, "security.too_large", limit=limit)(scope, receive, send)

    async def capped(self, scope, receive, send):
        """Run the app on a body of unknown length, counting it as it is read; past the cap, answer 413 and
        tell the app the client left."""
        received, refused, started = 0, False, False

        async def receive_capped():
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    refused = True
                    if not started:
                        await self.too_large(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def send_unless_refused(message):
            nonlocal started
            if refused:
                return  # the 413 has been sent; the app's answer to the "disconnect" is dropped
            started = True
            await send(message)

        try:
            await self.app(scope, receive_capped, send_unless_refused)
        except Exception:
            if not refused:
                raise  # the app's own failure; ours is only the app noticing the client "left"
