"""The dashboard bundle at `/`: files from the bundle directory, `index.html` for any other
path outside `/api` (the single-page app routes itself); a short page when it is not built."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, Response

from decnet_lib.api.errors import error_response

DEFAULT_BUNDLE = Path(__file__).resolve().parents[1] / "web" / "bundle"
NOT_BUILT = """<!doctype html>
<html><head><meta charset="utf-8"><title>MazeNET</title></head>
<body><h1>MazeNET API</h1>
<p>The dashboard bundle is not built. The API is under /api/v1
(<a href="/api/v1/docs">OpenAPI docs</a>).</p></body></html>
"""


def mount_bundle(app: FastAPI, bundle: Path | None) -> None:
    """Serve `bundle` (default: the package's `decnet_lib/web/bundle`) at `/`."""
    root = (bundle or DEFAULT_BUNDLE).resolve()

    @app.get("/{path:path}", include_in_schema=False)
    def dashboard(path: str) -> Response:
        if path == "api" or path.startswith("api/"):
            return error_response(404, "NOT_FOUND", f"no route /{path}")
        index = root / "index.html"
        if not index.is_file():
            return HTMLResponse(NOT_BUILT)
        wanted = (root / path).resolve()
        if path and wanted.is_file() and wanted.is_relative_to(root):
            return FileResponse(wanted)
        return FileResponse(index)
