"""Cross-site request refusal, security headers and the request-body cap (filled in by issue 11's work)."""

from fastapi import FastAPI

from app.settings import Settings


def install(app: FastAPI, settings: Settings) -> None:
    """Wrap the app in the security middleware."""
