"""How a Go net/http server answers, for the Go services of the http group (docker_api, k8s).

Go writes the handler's headers sorted by name, then Date, Content-Length, a sniffed
Content-Type and Connection; a body past 2048 bytes without a length goes chunked (HTTP/1.1)
or ends with the connection (HTTP/1.0); it answers HTTP/1.0 requests in HTTP/1.0; a request
line it cannot parse (an empty line included) gets its plain-text `400 Bad Request` at once.
`serve()` is _http_core's request loop with that last Go rule; requests, Authorization
credentials and malformed input are recorded by _http_core. `tls_alert` is crypto/tls's
answer to a ClientHello it refuses (or to plain HTTP on its TLS port).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from decnet_emu.protocols import _http_core as core
from decnet_emu.protocols._http_core import HttpError, Request, Response, http_date
from decnet_emu.session import Session

HIJACK_DELAY = 0.05  # seconds between a 101 head and the stream behind it
CHUNK_LIMIT = 2048  # net/http's response buffer: larger bodies without a length are chunked
PROTOCOL_VERSION_ALERT = b"\x15\x03\x01\x00\x02\x02\x46"  # fatal protocol_version, TLS 1.0
GO_PLAINTEXT_REPLY = (b"HTTP/1.0 400 Bad Request\r\n\r\n"
                      b"Client sent an HTTP request to an HTTPS server.\n")
HTTP_STARTS = (b"GET /", b"HEAD ", b"POST ", b"PUT /", b"OPTIO")


def tls_alert(received: bytes, openssl_alert: bytes) -> bytes:
    """What Go's server sends on a failed handshake (a Session.start_tls alert hook)."""
    if received[:5] in HTTP_STARTS:
        return GO_PLAINTEXT_REPLY
    if openssl_alert[-1:] == b"\x46":  # protocol_version: Go writes it in a TLS 1.0 record
        return PROTOCOL_VERSION_ALERT
    return openssl_alert


def go_response(status: int, request: Request | None, headers: dict[str, str],
                body: bytes = b"", *, sized: bool = True,
                sniffed_type: str = "") -> Response:
    """A response laid out as net/http writes it.

    `headers` are the handler's own (sorted on output); `sized` False means the handler
    streamed the body without a Content-Length (chunked past CHUNK_LIMIT); `sniffed_type` is
    the Content-Type net/http adds when the handler set none.
    """
    out = sorted(headers.items(), key=lambda item: item[0])
    http10 = request is not None and request.version == "HTTP/1.0"
    wants_close = request is None or not request.keep_alive
    close = wants_close
    out.append(("Date", http_date()))
    chunked = not sized and len(body) > CHUNK_LIMIT and status not in (204, 304)
    if chunked and http10:
        close = True
    elif chunked:
        out.append(("Transfer-Encoding", "chunked"))
    elif status not in (204, 304) and "Content-Length" not in headers:
        out.append(("Content-Length", str(len(body))))
    if sniffed_type and body and "Content-Type" not in headers:
        out.append(("Content-Type", sniffed_type))
    if close and not http10:
        out.append(("Connection", "close"))
    elif http10 and not close:
        out.append(("Connection", "keep-alive"))
    if chunked and not http10:
        body = core.chunked(body)
    return Response(status, out, body, close=close)


def json_body(value: Any, indent: bool = False) -> bytes:
    """encoding/json output: compact with a newline (json.Encoder) or MarshalIndent."""
    if indent:
        return json.dumps(value, indent=2, ensure_ascii=False).encode()
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


@dataclass
class Hijacked(Response):
    """A connection taken over by the handler (101): the stream follows the head a moment
    later, as it does from a server that writes it once something has happened."""

    stream: bytes = b""


def bad_request() -> Response:
    """net/http's answer to a request it cannot parse."""
    body = b"400 Bad Request"
    return Response(400, [("Content-Type", "text/plain; charset=utf-8"),
                          ("Connection", "close")], body, close=True)


async def _read(session: Session, first: bool) -> Request | None:
    """One request the way net/http reads it: no tolerance for a leading empty line."""
    try:
        raw = await core._line(session, None if first else core.KEEPALIVE_TIMEOUT)
    except TimeoutError:
        if first:
            raise
        return None
    if not raw:
        if session.reader.at_eof():
            return None
        raise HttpError(400, "empty request line", b"\r\n")
    method, target, version = core._request_line(raw)
    request = Request(method, target, version, await core._headers(session))
    request.body = await core._body(session, request)
    return request


async def serve(session: Session, respond: Callable[[Session, Request], Awaitable[Response]],
                before: Callable[[Session], Awaitable[bool]] | None = None,
                record: Callable[[Session, Request], None] = core.record_request) -> None:
    """Answer requests on one connection like net/http (keep-alive, at most 100);
    `record` writes a request's events (_http_core's by default)."""
    if before is not None and not await before(session):
        return
    for number in range(core.MAX_REQUESTS):
        try:
            request = await _read(session, first=number == 0)
        except HttpError as exc:
            session.event("data", reason=exc.reason, data=exc.raw[:core.LOGGED_BODY] or None)
            await session.send(core.render(bad_request(), "HTTP/1.1"))
            return
        if request is None:
            return
        record(session, request)
        response = await respond(session, request)
        version = "HTTP/1.0" if request.version == "HTTP/1.0" else "HTTP/1.1"
        await session.send(core.render(response, version, head=request.method == "HEAD"))
        if isinstance(response, Hijacked):
            await asyncio.sleep(HIJACK_DELAY)
            if response.stream:
                await session.send(response.stream)
            return
        if response.close:
            return
