"""Error responses that name the field and never echo more than a short excerpt of the input."""

from fastapi import FastAPI


def install(app: FastAPI) -> None:
    """Register the app's exception handlers."""
