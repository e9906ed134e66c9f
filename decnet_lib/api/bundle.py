"""The dashboard bundle at `/`, served by the same `BundleFiles` as `decnet web serve`
(`decnet_lib/web/static.py`: files, index.html for client-side routes, a not-built page);
paths under `/api` that no route took stay API 404s in the error shape (and a known API path
with another method stays a 405: this is a GET/HEAD route, not a mount)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response

from decnet_lib.api.errors import error_response
from decnet_lib.web import BUNDLE_DIR
from decnet_lib.web.static import BundleFiles

DEFAULT_BUNDLE = BUNDLE_DIR


def mount_bundle(app: FastAPI, bundle: Path | None) -> None:
    """Serve `bundle` (default: the package's `decnet_lib/web/bundle`) at `/`."""
    files = BundleFiles((bundle or DEFAULT_BUNDLE).resolve())

    @app.api_route("/{path:path}", methods=["GET", "HEAD"], include_in_schema=False)
    async def dashboard(path: str, request: Request) -> Response:
        if path == "api" or path.startswith("api/"):
            return error_response(404, "NOT_FOUND", f"no route /{path}")
        return await files.get_response(path, request.scope)
