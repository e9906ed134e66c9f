"""A small real ASGI app standing in for the API behind `decnet web serve` in proxy tests.

It runs under uvicorn like the API does. `/api/echo/...` answers any method with what it
received (method, raw path, query, headers in order, body in base64); `/api/sse` streams two
Server-Sent Events and holds the second until the test releases it; `/api/upload` reads a
body chunk by chunk; `/api/gzip` answers a
body that is already gzip-compressed. Starlette's own CORSMiddleware answers preflights,
allowing ALLOWED_ORIGIN only.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import threading
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

ALLOWED_ORIGIN = "http://dashboard.allowed.test"
GZIP_TEXT = b"compressed upstream body " * 40
HEAD_LENGTH = "4242"
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class SseGate:
    """Holds the second event of `/api/sse` until released; records when the stream ended."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.finished = threading.Event()
        self.upload_started = threading.Event()


async def echo(request: Request) -> Response:
    body = await request.body()
    status = int(request.query_params.get("status", "200"))
    document = {
        "method": request.method,
        "raw_path": request.scope["raw_path"].decode("latin-1"),
        "query": request.scope["query_string"].decode("latin-1"),
        "headers": [[name.decode("latin-1"), value.decode("latin-1")]
                    for name, value in request.headers.raw],
        "body": base64.b64encode(body).decode(),
    }
    response = JSONResponse(document, status_code=status,
                            headers={"X-Upstream": "echo", "ETag": '"v1"'})
    response.raw_headers += [(b"set-cookie", b"a=1; Path=/"), (b"set-cookie", b"b=2; Path=/")]
    if request.method == "HEAD":  # the length a GET would have (a fixed one, to compare)
        headers = {**response.headers, "content-length": HEAD_LENGTH}
        return Response(status_code=status, headers=headers)
    return response


def sse_route(gate: SseGate) -> Callable[[Request], Awaitable[StreamingResponse]]:
    async def sse(_: Request) -> StreamingResponse:
        async def events() -> AsyncIterator[bytes]:
            try:
                yield b"event: status\ndata: first\n\n"
                for _ in range(1000):  # at most 10 s
                    if gate.release.is_set():
                        break
                    await asyncio.sleep(0.01)
                yield b"event: status\ndata: second\n\n"
            finally:
                gate.finished.set()

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})

    return sse


def upload_route(gate: SseGate) -> Callable[[Request], Awaitable[JSONResponse]]:
    async def upload(request: Request) -> JSONResponse:
        """Reads the body chunk by chunk; says when the first one arrived."""
        received = 0
        async for chunk in request.stream():
            if chunk:
                gate.upload_started.set()
            received += len(chunk)
        return JSONResponse({"received": received,
                             "transfer-encoding": request.headers.get("transfer-encoding"),
                             "content-length": request.headers.get("content-length")})

    return upload


async def gzipped(_: Request) -> Response:
    return Response(gzip.compress(GZIP_TEXT), media_type="text/plain",
                    headers={"Content-Encoding": "gzip"})


def create_echo_api(gate: SseGate) -> Starlette:
    """The stand-in API (one SseGate per app)."""
    routes = [
        Route("/api/sse", sse_route(gate)),
        Route("/api/gzip", gzipped),
        Route("/api/upload", upload_route(gate), methods=["POST"]),
        Route("/api/echo/{rest:path}", echo, methods=ALL_METHODS),
    ]
    cors = Middleware(CORSMiddleware, allow_origins=[ALLOWED_ORIGIN], allow_methods=ALL_METHODS,
                      allow_headers=["Authorization", "Content-Type"], max_age=600)
    return Starlette(routes=routes, middleware=[cors])
