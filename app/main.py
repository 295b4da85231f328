"""The ASGI app: `uvicorn app.main:app` or `d2l-playground serve`."""

import asyncio
import gc
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app.runs.demo_process import DemoProcess
from app.runs.service import RunService
from app.settings import Settings, get_settings
from app.web import api, errors, exercises, pages, race, security
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
        app.state.metrics.watch(service)
        app.state.demos = DemoProcess()
        settle_garbage_collector()
        yield
        app.state.demos.close()
        service.close()

    app = FastAPI(
        title="d2l-playground", summary="Train chapter 3 of Dive into Deep Learning live.", lifespan=lifespan
    )
    app.state.metrics = Metrics()
    app.state.settings = settings
    app.state.race_feeds = RaceFeeds()
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

    app.include_router(race.router)
    app.include_router(pages.router)
    app.include_router(exercises.router)
    return app


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
