"""The ASGI app: `uvicorn app.main:app` or `d2l-playground serve`."""

import asyncio
import gc
import threading
from contextlib import asynccontextmanager
from html import escape

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app.classes.service import Classes
from app.classes.store import ClassStore
from app.runs.demo_process import DemoProcess
from app.runs.service import RunService
from app.settings import Settings, get_settings
from app.web import (
    api,
    class_board,
    classes,
    code_panel,
    datasets,
    errors,
    exercises,
    notebook,
    pace,
    pages,
    race,
    security,
)
from app.web.class_feed import ClassFeeds
from app.web.code_panel import warm_panels
from app.web.i18n import RememberLanguage
from app.web.identity import Identities, VisitorIdentity
from app.web.metrics import Metrics
from app.web.race_feed import RaceFeeds
from app.web.stream import encode_event
from app.web.templating import STATIC_DIR


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        service = make_service(settings, app.state.metrics)
        service.start()
        app.state.runs = service
        app.state.classes = Classes(ClassStore(service.store.engine))
        app.state.metrics.watch(service)
        app.state.demos = DemoProcess()
        settle_garbage_collector()
        threading.Thread(target=warm_panels, name="warm-code-panels", daemon=True).start()
        yield
        app.state.class_feeds.close()
        app.state.fashion_mnist_download.close()
        app.state.demos.close()
        service.close()

    app = FastAPI(
        title="d2l-playground",
        summary="Train chapter 3 of Dive into Deep Learning live.",
        lifespan=lifespan,
        docs_url=None,  # served below from vendored files, under the pages' CSP
        redoc_url=None,  # not vendored: /docs is the one API description page
    )
    app.state.metrics = Metrics()
    app.state.settings = settings
    app.state.race_feeds = RaceFeeds()
    app.state.class_feeds = ClassFeeds()
    app.state.fashion_mnist_download = datasets.FashionMnistDownload(settings)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(api.router)

    app.add_middleware(RememberLanguage)
    app.add_middleware(VisitorIdentity, identities=Identities(settings))
    security.install(app, settings)  # outermost: refuses before anything else runs
    errors.install(app)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict:
        """Alive, and how the training backend stands."""
        return {"status": "ok", **app.state.runs.health()}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        """Ready to serve: the run store answers and can write, and the broker answers if one is set."""
        service = app.state.runs
        checks = await asyncio.to_thread(
            lambda: {
                "database": service.store.reachable(),
                "database_writable": service.store.writable(),
                "broker": service.broker_ok(),
            }
        )
        ready = all(checks.values())
        return JSONResponse({"ready": ready, **checks}, status_code=200 if ready else 503)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/docs", include_in_schema=False)
    async def api_docs() -> HTMLResponse:
        """Swagger UI from static/vendor/swagger-ui, started by static/js/docs.js: works offline."""
        return HTMLResponse(api_docs_page(app.title, app.openapi_url))

    app.include_router(pace.router)
    app.include_router(pace.pages)
    app.include_router(race.router)
    app.include_router(classes.router)
    app.include_router(classes.pages)
    assert class_board.router is classes.router  # the board's routes are on the same routers
    app.include_router(code_panel.router)
    app.include_router(notebook.router)
    app.include_router(pages.router)
    app.include_router(exercises.router)
    app.include_router(datasets.router)
    return app


def api_docs_page(title: str, openapi_url: str) -> str:
    """FastAPI's get_swagger_ui_html starts Swagger UI with an inline script, which the CSP refuses
    (script-src 'self'); this page is the same with the start in a file of ours."""
    vendor = "/static/vendor/swagger-ui"
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)} - API</title>\n"
        '<link rel="icon" href="data:,">\n'
        f'<link rel="stylesheet" href="{vendor}/swagger-ui.css">\n'
        f'<script src="{vendor}/swagger-ui-bundle.js" defer></script>\n'
        '<script src="/static/js/docs.js" defer></script>\n'
        f'</head>\n<body>\n<div id="swagger-ui" data-openapi-url="{escape(openapi_url)}"></div>\n'
        "</body>\n</html>\n"
    )


def settle_garbage_collector() -> None:
    """Move everything made at start-up (FastAPI, pydantic, SQLAlchemy, templates: hundreds of thousands
    of objects) out of the collector's reach, and collect the young generation less often. A full
    collection otherwise walks that whole heap: 90-160 ms pauses of the event loop, measured while
    two runs streamed thousands of events a second (tests/web/test_bounded_memory.py)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)


def make_service(settings: Settings, metrics: Metrics):
    """The local pool on embedded defaults; Celery workers and Redis Streams when a broker is set."""
    if settings.broker_url:
        from app.runs.broker.service import BrokerRunService

        return BrokerRunService(settings, encode_event, on_delivered=metrics.delivered)
    return RunService(settings, encode_event, on_delivered=metrics.delivered)


app = create_app()
