"""The web layer: FastAPI routes, Jinja2 pages and fragments, server-sent events. No torch here."""
