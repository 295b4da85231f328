"""Who is asking: an anonymous visitor identity, kept in a signed cookie, or a bearer token.

The first visit gets a random visitor id (128 bits) in a signed, HttpOnly, SameSite=Lax cookie. The
JSON API may send the same signed value as `Authorization: Bearer <token>` (GET /api/me hands it out),
and `Authorization: Bearer <PLAYGROUND_ADMIN_TOKEN>` is the admin. Routes read the result with
`visitor_of(request)` and `is_admin(request)`; runs, races and classes belong to a visitor id.

Plain ASGI, like RememberLanguage: a BaseHTTPMiddleware would relay every SSE chunk through a task.
"""

import hmac
import logging
import os
import secrets
from http.cookies import SimpleCookie
from pathlib import Path

from fastapi import Request
from itsdangerous import BadSignature, URLSafeSerializer
from starlette.datastructures import MutableHeaders

from app.settings import Settings

log = logging.getLogger("d2l_playground.identity")
COOKIE = "d2l_visitor"
COOKIE_MAX_AGE_S = 365 * 24 * 3600
ANONYMOUS = "anonymous"  # requests that reach a route without the middleware (tests of a bare router)


def secret_key(settings: Settings) -> str:
    """PLAYGROUND_SECRET_KEY, else a key made once and kept beside the data (so restarts keep identities)."""
    if settings.secret_key:
        return settings.secret_key
    path = Path(settings.data_dir) / "secret_key"
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as file:
                file.write(secrets.token_urlsafe(32))
        return path.read_text().strip()
    except OSError as error:  # a read-only data directory: identities last until the server stops
        log.warning(
            "cannot keep the signing key in %s (%s); visitors get new identities on restart", path, error
        )
        return secrets.token_urlsafe(32)


class Identities:
    """Makes and checks the signed tokens; one per app."""

    def __init__(self, settings: Settings):
        self.signer = URLSafeSerializer(secret_key(settings), salt="d2l-visitor")
        self.admin_token = settings.admin_token

    def new(self) -> tuple[str, str]:
        """A fresh visitor id and its signed token."""
        visitor = secrets.token_urlsafe(16)
        return visitor, self.signer.dumps(visitor)

    def visitor(self, token: str) -> str | None:
        """The visitor id a token carries, or None when it was not signed here."""
        try:
            visitor = self.signer.loads(token)
        except BadSignature:
            return None
        return visitor if isinstance(visitor, str) else None

    def is_admin(self, token: str) -> bool:
        return bool(self.admin_token) and hmac.compare_digest(token.encode(), self.admin_token.encode())


def header(scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return ""


class VisitorIdentity:
    """Puts `visitor`, `visitor_token` and `admin` into request.state; sets the cookie on a first visit."""

    def __init__(self, app, identities: Identities):
        self.app, self.identities = app, identities

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        state = scope.setdefault("state", {})
        bearer = header(scope, b"authorization").removeprefix("Bearer ").strip()
        state["admin"] = bool(bearer) and self.identities.is_admin(bearer)
        visitor = self.identities.visitor(bearer) if bearer else None
        cookie = SimpleCookie(header(scope, b"cookie")).get(COOKIE)
        if visitor is None and cookie is not None:
            visitor = self.identities.visitor(cookie.value)
            bearer = cookie.value if visitor else bearer
        if visitor is not None:
            state["visitor"], state["visitor_token"] = visitor, bearer
            return await self.app(scope, receive, send)
        state["visitor"], state["visitor_token"] = self.identities.new()
        set_cookie = (
            f"{COOKIE}={state['visitor_token']}; Max-Age={COOKIE_MAX_AGE_S}; Path=/; HttpOnly; SameSite=Lax"
        )

        async def send_with_cookie(message):
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append("set-cookie", set_cookie)
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def visitor_of(request: Request) -> str:
    return getattr(request.state, "visitor", ANONYMOUS)


def is_admin(request: Request) -> bool:
    return getattr(request.state, "admin", False)


def may_change(request: Request, owner: str | None) -> bool:
    """Cancel, delete, pause: the run's owner or the admin."""
    return is_admin(request) or (owner is not None and owner == visitor_of(request))
