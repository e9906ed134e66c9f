"""The app factory: `create_app(settings)` builds the master API with its middleware, error
handlers, routers under /api/v1 and the dashboard bundle at `/`."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from decnet_lib.api.bundle import mount_bundle
from decnet_lib.api.cors import Cors
from decnet_lib.api.errors import install_error_handlers
from decnet_lib.api.head import HeadAsGet
from decnet_lib.api.limits import BodyLimit
from decnet_lib.api.openapi import install_openapi
from decnet_lib.api.routes import ROUTERS
from decnet_lib.api.security import API_PREFIX, TokenGate
from decnet_lib.api.stream_slots import StreamSlots
from decnet_lib.master.database import open_engine
from decnet_lib.master.wiring import wire_events
from decnet_lib.settings_model import Settings


def create_app(settings: Settings) -> FastAPI:
    """The master REST API on `settings` (database, bus, CORS origins, stream limits)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # SQLite: each transaction takes the write lock at BEGIN, so concurrent requests
        # wait for each other instead of failing "database is locked"
        app.state.engine = await run_in_threadpool(
            lambda: open_engine(settings, sqlite_immediate=True))
        unwire = wire_events(settings)  # status and mutation events go to the bus
        try:
            yield
        finally:
            bus, app.state.stream_bus = app.state.stream_bus, None
            if bus is not None:
                with contextlib.suppress(Exception):
                    await bus.close()
            await run_in_threadpool(unwire)
            app.state.engine.dispose()

    app = FastAPI(title="MazeNET master API", version="1", lifespan=lifespan,
                  openapi_url=f"{API_PREFIX}/openapi.json", docs_url=f"{API_PREFIX}/docs",
                  redoc_url=None)
    app.state.settings = settings
    app.state.engine = None
    app.state.stream_bus = None
    app.state.stream_slots = StreamSlots(settings.lock_dir / "api-streams", settings.db_url)
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    mount_bundle(app, settings.api_bundle_dir)
    install_openapi(app)
    app.add_middleware(HeadAsGet)
    app.add_middleware(BodyLimit, limit=settings.max_document_bytes)
    app.add_middleware(TokenGate)
    app.add_middleware(Cors, origins=settings.cors_origins)  # outermost: 401s carry CORS too
    return app
