"""The agent's FastAPI application factory.

    app = create_app()                                   # settings from DECNET_*
    app = create_app(settings, deployer_factory=make)    # tests: a recording factory

Nothing here touches Docker: the Deployer is created on the first request that needs it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from agent.deployers import DeployerFactory, DeployerProvider, settings_factory
from agent.deps import AgentRuntime
from agent.errors import install_handlers
from agent.events import close_journals, start_journal
from agent.events import router as events_router
from agent.openapi import install_openapi
from agent.routes import router
from decnet_lib import __version__
from decnet_lib.settings import Settings, get_settings


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """At startup the event journal, then the collector when the agent already holds a
    topology (a restart); at shutdown the hooks, the Deployer and the journal."""
    runtime: AgentRuntime = app.state.runtime
    await run_in_threadpool(start_journal, runtime.settings)
    await run_in_threadpool(runtime.hooks.boot)
    yield
    runtime.hooks.shutdown()
    runtime.deployers.close()
    close_journals()


def create_app(
    settings: Settings | None = None, deployer_factory: DeployerFactory | None = None
) -> FastAPI:
    """The agent app. `app.state.hooks` takes the log collector's start/stop hooks."""
    app = FastAPI(title="MazeNET agent", version=__version__, lifespan=lifespan)
    settings = settings or get_settings()
    runtime = AgentRuntime(settings, DeployerProvider(deployer_factory
                                                      or settings_factory(settings)))
    app.state.runtime = runtime
    app.state.hooks = runtime.hooks
    install_handlers(app)
    app.include_router(router)
    app.include_router(events_router)
    install_openapi(app)
    return app
