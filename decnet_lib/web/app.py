"""The `decnet web serve` application: `/api/*` proxied to the API, the bundle elsewhere."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.routing import Mount, Route

from decnet_lib.web import BUNDLE_DIR
from decnet_lib.web.proxy import ApiProxy
from decnet_lib.web.static import BundleFiles


def create_app(api_url: str, bundle_dir: Path = BUNDLE_DIR) -> Starlette:
    """The bundle server for the API at `api_url` (any method under /api is forwarded)."""
    proxy = ApiProxy(api_url)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await proxy.aclose()

    routes = [
        Route("/api", proxy),
        Route("/api/{rest:path}", proxy),
        Mount("/", app=BundleFiles(bundle_dir), name="bundle"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.proxy = proxy
    return app
