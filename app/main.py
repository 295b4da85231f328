"""The ASGI app: `uvicorn app.main:app` or `d2l-playground serve`."""

from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles

from app.runs.demo_process import DemoProcess
from app.runs.service import RunService
from app.settings import Settings, get_settings
from app.web import api, exercises, pages
from app.web.i18n import LANGUAGES
from app.web.stream import encode_event
from app.web.templating import STATIC_DIR


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        service = RunService(settings, encode_event)
        service.start()
        app.state.runs = service
        app.state.demos = DemoProcess()
        yield
        app.state.demos.close()
        service.close()

    app = FastAPI(
        title="d2l-playground", summary="Train chapter 3 of Dive into Deep Learning live.", lifespan=lifespan
    )
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(api.router)

    @app.middleware("http")
    async def remember_language(request: Request, call_next):
        """A language picked with ?lang= stays picked on every page (a cookie for a year)."""
        response = await call_next(request)
        if request.query_params.get("lang") in LANGUAGES:
            response.set_cookie("lang", request.query_params["lang"], max_age=365 * 24 * 3600, samesite="lax")
        return response

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict:
        """Alive, and how the training pool stands."""
        pool = app.state.runs.pool
        return {
            "status": "ok",
            "workers": len(pool.workers),
            "workers_ready": pool.ready_count(),
            "queued": len(pool.pending),
            "running": pool.busy(),
        }

    app.include_router(pages.router)
    app.include_router(exercises.router)
    return app


app = create_app()
