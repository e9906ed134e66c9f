"""Request bodies are bounded by DECNET_MAX_DOCUMENT_BYTES (the topology file limit too):
a larger Content-Length is a 413 `TOO_LARGE` before anything is read; a chunked body that
grows past the limit is cut off (400)."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from decnet_lib.api.errors import ApiError, error_response


class BodyLimit:
    """ASGI middleware: at most `limit` bytes of request body."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.limit:
            response = error_response(413, "TOO_LARGE", f"the request body is over "
                                      f"{self.limit} bytes (DECNET_MAX_DOCUMENT_BYTES)")
            await response(scope, receive, send)
            return
        seen = 0

        async def bounded() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise ApiError("TOO_LARGE", f"the request body is over {self.limit} bytes")
            return message

        await self.app(scope, receive if declared.isdigit() else bounded, send)
