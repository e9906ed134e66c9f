"""CORS done right: the configured origins get the headers on every method, PATCH and the
OPTIONS preflight included; any other origin gets none (and a refused preflight a 403).

A preflight is answered here, before authentication (browsers send no token with it).
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from decnet_lib.api.errors import error_response

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
ALLOWED_HEADERS = ("Authorization", "Content-Type")
MAX_AGE = "600"


class Cors:
    """ASGI middleware: CORS headers for `origins` only."""

    def __init__(self, app: ASGIApp, origins: tuple[str, ...]) -> None:
        self.app = app
        self.origins = frozenset(origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        allowed = origin is not None and origin.rstrip("/") in self.origins
        preflight = (scope["method"] == "OPTIONS" and origin is not None
                     and "access-control-request-method" in headers)
        if preflight:
            await self._preflight(origin if allowed else None, headers)(scope, receive, send)
            return
        if origin is None:
            await self.app(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                if allowed:
                    out["Access-Control-Allow-Origin"] = origin
                out.add_vary_header("Origin")  # caches keep one answer per origin
            await send(message)

        await self.app(scope, receive, send_with_cors)

    @staticmethod
    def _preflight(origin: str | None, headers: Headers) -> ASGIApp:
        if origin is None:
            return error_response(403, "CORS_REFUSED", "this origin is not allowed (it is not "
                                  "in DECNET_API_CORS_ORIGINS)")
        method = headers["access-control-request-method"].upper()
        if method not in METHODS:
            return error_response(403, "CORS_REFUSED", f"method {method} is not allowed")
        return Response(status_code=204, headers={
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": ", ".join(METHODS),
            "Access-Control-Allow-Headers": ", ".join(ALLOWED_HEADERS),
            "Access-Control-Max-Age": MAX_AGE,
            "Vary": "Origin",
        })
