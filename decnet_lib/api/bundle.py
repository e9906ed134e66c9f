"""The dashboard bundle at `/`, served by the same `BundleFiles` as `decnet web serve`
(`decnet_lib/web/static.py`: files, index.html for client-side routes, a not-built page);
paths under `/api` that no route took stay API 404s in the error shape."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from decnet_lib.api.errors import error_response
from decnet_lib.web import BUNDLE_DIR
from decnet_lib.web.static import BundleFiles

DEFAULT_BUNDLE = BUNDLE_DIR


class _DashboardOrApiMiss:
    """`/api...` paths no route matched get the API's 404; everything else the bundle."""

    def __init__(self, files: ASGIApp) -> None:
        self.files = files

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and (path == "/api" or path.startswith("/api/")):
            response = error_response(404, "NOT_FOUND", f"no route {path}")
            await response(scope, receive, send)
            return
        await self.files(scope, receive, send)


def mount_bundle(app: FastAPI, bundle: Path | None) -> None:
    """Serve `bundle` (default: the package's `decnet_lib/web/bundle`) at `/`."""
    root = (bundle or DEFAULT_BUNDLE).resolve()
    app.mount("/", _DashboardOrApiMiss(BundleFiles(root)), name="dashboard")
