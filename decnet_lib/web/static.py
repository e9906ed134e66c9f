"""Serve the built dashboard bundle: files as they are, client-side routes as index.html.

A path whose last segment has no dot (`/topologies/lab`) is a route of the single-page app
and gets index.html; a missing file (`/assets/gone.js`) is a 404. Without a built bundle
every page is a short HTML note saying how to build it.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

NOT_BUILT_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>MazeNET dashboard</title></head>
<body><h1>MazeNET dashboard</h1>
<p>The dashboard bundle is not built in <code>{directory}</code>.</p>
<p>Build it with the project's set-up script (it runs <code>npm ci</code> and
<code>npm run build</code> in <code>decnet_lib/web/frontend/</code> with this machine's
Node.js), then
reload this page. The API under <code>/api/</code> works without it.</p>
</body></html>
"""
HASHED_ASSETS = "assets/"
IMMUTABLE = "public, max-age=31536000, immutable"


def is_client_route(path: str) -> bool:
    """True for a path the single-page app routes itself (its last segment has no dot)."""
    return "." not in PurePosixPath("/" + path).name


class BundleFiles(StaticFiles):
    """StaticFiles with the single-page-app fallback and cache headers for hashed assets."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory=directory, html=True, check_dir=False)
        self.bundle_dir = directory

    @property
    def built(self) -> bool:
        return (self.bundle_dir / "index.html").is_file()

    async def check_config(self) -> None:
        """A missing bundle directory is served as the not-built page, not an error."""
        if self.built:
            await super().check_config()

    async def get_response(self, path: str, scope: Scope) -> Response:
        if not self.built:
            page = NOT_BUILT_PAGE.format(directory=self.bundle_dir)
            return HTMLResponse(page, status_code=503, headers={"Cache-Control": "no-store"})
        try:
            response = await super().get_response(path, scope)
        except HTTPException as exc:
            if exc.status_code != 404 or not is_client_route(path):
                raise
            response = await super().get_response("index.html", scope)
        if response.status_code == 404 and is_client_route(path):  # a 404.html of the bundle
            response = await super().get_response("index.html", scope)
        if path.startswith(HASHED_ASSETS) and response.status_code == 200:
            response.headers["Cache-Control"] = IMMUTABLE
        elif response.headers.get("content-type", "").startswith("text/html"):
            response.headers["Cache-Control"] = "no-cache"
        return response
