"""Forward `/api/*` to the API: every method, bodies and headers intact, answers streamed.

Hop-by-hop headers (RFC 9110 section 7.6.1) are dropped both ways, with any header the
`Connection` field names; `Host` is the upstream's; `X-Forwarded-For`/`-Proto`/`-Host` say
who asked. The upstream answer is relayed chunk by chunk as it arrives (raw, so a
compressed body stays compressed), which keeps Server-Sent Events unbuffered.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
    "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
})
# Host is the upstream's; Expect: 100-continue was answered by this hop already.
REQUEST_DROPPED = HOP_BY_HOP | {"host", "expect"}
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 60.0


def hop_by_hop_names(headers: list[tuple[bytes, bytes]]) -> frozenset[str]:
    """The standard hop-by-hop names plus those listed in this message's `Connection`."""
    listed = {
        token.strip().lower()
        for name, value in headers if name.lower() == b"connection"
        for token in value.decode("latin-1").split(",") if token.strip()
    }
    return HOP_BY_HOP | listed


def upstream_request_headers(request: Request) -> list[tuple[bytes, bytes]]:
    """The client's headers minus hop-by-hop ones, plus the X-Forwarded-* trio."""
    raw = request.headers.raw
    dropped = hop_by_hop_names(raw) | REQUEST_DROPPED
    kept = [(name, value) for name, value in raw
            if name.decode("latin-1").lower() not in dropped]
    client = request.client.host if request.client else "unknown"
    earlier = request.headers.get("x-forwarded-for")
    forwarded_for = f"{earlier}, {client}" if earlier else client
    extra = {
        b"x-forwarded-for": forwarded_for,
        b"x-forwarded-proto": request.url.scheme,
        b"x-forwarded-host": request.headers.get("host", ""),
    }
    kept = [(name, value) for name, value in kept if name.lower() not in extra]
    return kept + [(name, value.encode("latin-1")) for name, value in extra.items() if value]


def request_body(request: Request) -> AsyncIterator[bytes] | None:
    """The client's body streamed on as it arrives (never held whole: the API's own size
    limit answers a body too large); None when the request announces none. The length the
    client announced goes on with it; a chunked body stays chunked."""
    headers = request.headers
    chunked = "chunked" in headers.get("transfer-encoding", "").lower()
    if not chunked and headers.get("content-length", "0").strip() in ("", "0"):
        return None
    return request.stream()


def client_response_headers(upstream: httpx.Response) -> list[tuple[bytes, bytes]]:
    """The upstream's headers minus hop-by-hop ones (duplicates such as Set-Cookie kept)."""
    raw = upstream.headers.raw
    dropped = hop_by_hop_names(raw)
    return [(name.lower(), value) for name, value in raw
            if name.decode("latin-1").lower() not in dropped]


def error_response(status: int, code: str, message: str) -> JSONResponse:
    """An answer in the API's error shape, for failures of the hop itself."""
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def passthrough_client() -> httpx.AsyncClient:
    """An HTTP client that adds none of its own headers (no Accept, Accept-Encoding or
    User-Agent the caller did not send), keeps no cookie (one user's cookie must never reach
    the API with another's request), follows no redirect, ignores proxy variables and has no
    cap on open connections (each open event stream holds one; the API caps those)."""
    no_cookies = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
    client = httpx.AsyncClient(follow_redirects=False, trust_env=False, cookies=no_cookies,
                               timeout=httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT),
                               limits=httpx.Limits(max_connections=None,
                                                   max_keepalive_connections=32))
    for name in ("accept", "accept-encoding", "connection", "user-agent"):
        del client.headers[name]
    return client


class ApiProxy:
    """Relays requests to one API base URL over a shared async HTTP client (an ASGI app)."""

    def __init__(self, api_url: str, client: httpx.AsyncClient | None = None) -> None:
        self.api_url = api_url.rstrip("/")
        self.client = client or passthrough_client()

    def upstream_url(self, request: Request) -> str:
        """The API URL of this request: the same (still percent-encoded) path and query."""
        path = request.scope.get("raw_path") or request.url.path.encode()
        query = request.scope.get("query_string", b"")
        url = self.api_url + path.decode("latin-1")
        return f"{url}?{query.decode('latin-1')}" if query else url

    async def handle(self, request: Request) -> Response:
        """Forward one request; 502 `API_UNREACHABLE` when the API cannot be reached."""
        streaming = "text/event-stream" in request.headers.get("accept", "")
        timeout = httpx.Timeout(None if streaming else READ_TIMEOUT, connect=CONNECT_TIMEOUT)
        outgoing = self.client.build_request(
            request.method, self.upstream_url(request),
            headers=upstream_request_headers(request), content=request_body(request),
            timeout=timeout)
        try:
            upstream = await self.client.send(outgoing, stream=True)
        except httpx.TimeoutException as exc:
            return error_response(504, "API_TIMEOUT", f"the API at {self.api_url} did not "
                                  f"answer in time ({type(exc).__name__}: {exc})")
        except httpx.TransportError as exc:
            return error_response(502, "API_UNREACHABLE", f"the API at {self.api_url} cannot "
                                  f"be reached ({type(exc).__name__}: {exc})")
        response = StreamingResponse(relay(upstream), status_code=upstream.status_code)
        response.raw_headers = client_response_headers(upstream)
        return response

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """As an ASGI app: a route mounting it forwards every method, not only GET."""
        response = await self.handle(Request(scope, receive))
        await response(scope, receive, send)

    async def aclose(self) -> None:
        await self.client.aclose()


async def relay(upstream: httpx.Response) -> AsyncIterator[bytes]:
    """The upstream body as it arrives; the upstream connection is released at the end
    (also when the client goes away mid-stream)."""
    try:
        async for chunk in upstream.aiter_raw():
            yield chunk
    finally:
        await upstream.aclose()
