"""Shared HTTP/1.x machinery of the http group (http, https, elasticsearch, docker_api, k8s).

Bounded request parsing (request line, headers, Content-Length and chunked bodies),
keep-alive, response writing, Authorization decoding and form-login capture. A service
gives a `Site` (how it answers); `serve()` runs the request loop and records every request
(`request`), every credential in an Authorization header (`login`) and malformed input
(`data`). `start_tls` / `upgrade_tls` put implicit TLS (https, k8s) on the connection with
the persona's certificate (Session.start_tls: a failed handshake gets its TLS alert).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote

from decnet_emu.session import TLS_FAILURES, Session
from decnet_emu.tls import server_context
from decnet_emu.tls_stream import AlertHook

MAX_LINE = 8190          # Apache's LimitRequestLine / LimitRequestFieldSize
MAX_HEADERS = 100        # Apache's LimitRequestFields
MAX_BODY = 1 << 20       # bodies past this are refused (413) and the connection closed
MAX_REQUESTS = 100       # per connection (Apache's MaxKeepAliveRequests)
KEEPALIVE_TIMEOUT = 5.0  # seconds between requests on a kept-alive connection
LOGGED_BODY = 256

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE",
                     "CONNECT", "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK",
                     "UNLOCK", "SEARCH", "REPORT"})
USER_FIELDS = ("username", "user", "login", "email", "log", "uname", "user_name", "usr",
               "j_username", "userid", "user_id", "name", "account", "pma_username")
PASS_FIELDS = ("password", "pass", "passwd", "pwd", "j_password", "secret", "pma_password",
               "passw", "userpassword")


class HttpError(Exception):
    """A request that cannot be served: answered with `status`, then the connection closes."""

    def __init__(self, status: int, reason: str, raw: bytes = b"") -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.raw = raw


@dataclass
class Request:
    """One parsed HTTP request."""

    method: str
    target: str
    version: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def query(self) -> str:
        return self.target.split("?", 1)[1] if "?" in self.target else ""

    def header(self, name: str, default: str = "") -> str:
        name = name.lower()
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return default

    @property
    def keep_alive(self) -> bool:
        connection = self.header("connection").lower()
        if self.version == "HTTP/1.1":
            return "close" not in connection
        return "keep-alive" in connection

    def params(self) -> dict[str, str]:
        """Query string parameters (first value of each)."""
        return dict(parse_qsl(self.query, keep_blank_values=True)[:64])

    def form(self) -> dict[str, str]:
        """An application/x-www-form-urlencoded body (first value of each field)."""
        if "multipart/" in self.header("content-type"):
            return _multipart_fields(self.body, self.header("content-type"))
        try:
            text = self.body.decode("utf-8", "replace")
        except ValueError:
            return {}
        out: dict[str, str] = {}
        for key, value in parse_qsl(text, keep_blank_values=True)[:64]:
            out.setdefault(key, value)
        return out

    def json(self) -> Any:
        """The body as JSON, or None."""
        try:
            return json.loads(self.body or b"null")
        except (ValueError, UnicodeDecodeError, RecursionError):
            return None


@dataclass
class Response:
    """What a site answers: the status, ordered headers and the body."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    reason: str = ""
    close: bool = False


class Site(Protocol):
    """How one service answers requests."""

    echo_version: bool  # Go, Netty: answer HTTP/1.0 to HTTP/1.0; Apache, nginx: always 1.1

    async def respond(self, session: Session, request: Request) -> Response: ...

    def error(self, status: int, request: Request | None) -> Response: ...


# -- parsing ------------------------------------------------------------------------------
async def _line(session: Session, timeout: float | None = None) -> bytes:
    """One line (CRLF or LF) of at most MAX_LINE bytes, without its end of line."""
    reader = session.reader
    wait = session.idle_timeout if timeout is None else timeout
    try:
        raw = await asyncio.wait_for(reader.readuntil(b"\n"), wait)
    except asyncio.LimitOverrunError as exc:
        raise HttpError(414, "line too long") from exc
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise HttpError(400, "truncated request", exc.partial) from exc
        return b""
    if len(raw) > MAX_LINE + 2:
        raise HttpError(414, "line too long", raw[:256])
    return raw.rstrip(b"\r\n") if raw.endswith(b"\n") else raw


def _request_line(raw: bytes) -> tuple[str, str, str]:
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as exc:
        raise HttpError(400, "non-ASCII request line", raw) from exc
    parts = text.split(" ")
    if len(parts) != 3 or not parts[1] or not parts[2].startswith("HTTP/1."):
        raise HttpError(400, "malformed request line", raw)
    method, target, version = parts
    if not method.isalpha() or not method.isupper():
        raise HttpError(400, "bad method", raw)
    if version not in ("HTTP/1.0", "HTTP/1.1"):
        raise HttpError(505, "unsupported version", raw)
    return method, target, version


async def _headers(session: Session) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    while True:
        raw = await _line(session)
        if not raw:
            return headers
        if len(headers) >= MAX_HEADERS:
            raise HttpError(400, "too many headers", raw)
        if raw[:1] in (b" ", b"\t") and headers:  # obsolete line folding
            key, value = headers[-1]
            headers[-1] = (key, value + " " + raw.strip().decode("latin-1"))
            continue
        name, sep, value = raw.partition(b":")
        if not sep or not name or name != name.strip():
            raise HttpError(400, "malformed header", raw)
        headers.append((name.decode("latin-1"), value.strip().decode("latin-1")))


async def _chunked(session: Session) -> bytes:
    body = bytearray()
    for _ in range(4096):
        size_line = await _line(session)
        try:
            size = int(size_line.split(b";", 1)[0].strip() or b"x", 16)
        except ValueError as exc:
            raise HttpError(400, "bad chunk size", size_line) from exc
        if size < 0 or len(body) + size > MAX_BODY:
            raise HttpError(413, "body too large", size_line)
        if size == 0:
            for _ in range(MAX_HEADERS):  # trailers
                if not await _line(session):
                    return bytes(body)
            raise HttpError(400, "too many trailers")
        body += await session.read_exactly(size)
        if await _line(session):
            raise HttpError(400, "chunk not followed by CRLF")
    raise HttpError(400, "too many chunks")


async def _body(session: Session, request: Request) -> bytes:
    if "chunked" in request.header("transfer-encoding").lower():
        return await _chunked(session)
    length_text = request.header("content-length")
    if not length_text:
        return b""
    if not length_text.isdigit():
        raise HttpError(400, "bad content-length", length_text.encode()[:64])
    length = int(length_text)
    if length > MAX_BODY:
        raise HttpError(413, "body too large", length_text.encode())
    return await session.read_exactly(length) if length else b""


async def read_request(session: Session, first: bool = True,
                       prefix: bytes = b"") -> Request | None:
    """The next request; None when the client closed (or went idle between requests).

    `prefix`: bytes of the request line already read by the caller (e.g. a peek on a TLS
    port)."""
    timeout = None if first else KEEPALIVE_TIMEOUT
    raw = b""
    for _ in range(8):  # a few stray empty lines are tolerated, as servers do
        try:
            raw = prefix + await _line(session, timeout) if prefix else \
                await _line(session, timeout)
            prefix = b""
        except TimeoutError:
            if first:
                raise
            return None
        if raw:
            break
        if session.reader.at_eof():
            return None
    if not raw:
        return None
    method, target, version = _request_line(raw)
    request = Request(method, target, version, await _headers(session))
    request.body = await _body(session, request)
    return request


# -- answers ------------------------------------------------------------------------------
def http_date(when: float | None = None) -> str:
    return formatdate(time.time() if when is None else when, usegmt=True)


def reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def render(response: Response, version: str = "HTTP/1.1", head: bool = False) -> bytes:
    """The bytes of a response (the body left out for HEAD)."""
    lines = [f"{version} {response.status} {response.reason or reason_phrase(response.status)}"]
    lines += [f"{key}: {value}" for key, value in response.headers]
    head_bytes = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
    return head_bytes if head else head_bytes + response.body


def chunked(body: bytes) -> bytes:
    """A body in chunked transfer coding (one chunk)."""
    return (f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n") if body else b"0\r\n\r\n"


# -- credentials --------------------------------------------------------------------------
def authorization_fields(value: str) -> dict[str, Any] | None:
    """Login event fields from an Authorization header value (Basic decoded)."""
    scheme, _, credentials = value.strip().partition(" ")
    scheme_l = scheme.lower()
    credentials = credentials.strip()
    if not scheme:
        return None
    if scheme_l == "basic":
        try:
            decoded = base64.b64decode(credentials + "=" * (-len(credentials) % 4),
                                       validate=False)
        except (binascii.Error, ValueError):
            return {"mech": "basic", "token": credentials}
        user, sep, password = decoded.partition(b":")
        if not sep:
            return {"mech": "basic", "token": credentials}
        return {"mech": "basic", "username": user, "password": password}
    return {"mech": scheme_l[:32], "token": credentials or scheme}


def form_credentials(fields: dict[str, str]) -> tuple[str, str] | None:
    """(user, password) from a login form's fields, when it carries a password."""
    lowered = {key.lower(): value for key, value in fields.items()}
    password = next((lowered[k] for k in PASS_FIELDS if k in lowered), None)
    if password is None:
        password = next((v for k, v in lowered.items() if "pass" in k), None)
    if password is None:
        return None
    user = next((lowered[k] for k in USER_FIELDS if k in lowered), None)
    if user is None:
        user = next((v for k, v in lowered.items() if "user" in k or "login" in k), "")
    return user, password


def _multipart_fields(body: bytes, content_type: str) -> dict[str, str]:
    boundary = content_type.partition("boundary=")[2].strip('"; ')
    if not boundary:
        return {}
    out: dict[str, str] = {}
    for part in body.split(b"--" + boundary.encode("latin-1"))[:64]:
        head, _, value = part.partition(b"\r\n\r\n")
        marker = head.find(b'name="')
        if marker < 0:
            continue
        name = head[marker + 6:].split(b'"', 1)[0].decode("utf-8", "replace")
        out.setdefault(name, value.rstrip(b"\r\n-").decode("utf-8", "replace"))
    return out


def record_request(session: Session, request: Request, **extra: Any) -> None:
    """The `request` event, and a `login` event for an Authorization header."""
    session.event("request", method=request.method, path=unquote(request.path),
                  query=request.query or None, version=request.version,
                  host=request.header("host") or None,
                  user_agent=request.header("user-agent") or None,
                  content_type=request.header("content-type") or None,
                  body=request.body[:LOGGED_BODY] or None,
                  bytes=len(request.body) if request.body else None, **extra)
    auth = request.header("authorization")
    if auth:
        fields = authorization_fields(auth)
        if fields:
            session.event("login", success=False, path=request.path, **fields)


# -- TLS --------------------------------------------------------------------------------
def tls_context(session: Session) -> ssl.SSLContext:
    """The persona's TLS server context (or the configured `tls_cert`/`tls_key`)."""
    return server_context(session.persona, session.config)


async def start_tls(session: Session, first: bytes = b"", *,
                    context: ssl.SSLContext | None = None,
                    alert: AlertHook | None = None) -> bool:
    """Implicit TLS at accept; a failed handshake is a `data` event (False).

    `first`: bytes the caller already read from the client (its ClientHello's start);
    `context` (default `tls_context`) and `alert` as for Session.start_tls."""
    try:
        await session.start_tls(context or tls_context(session), initial=first, alert=alert)
    except TLS_FAILURES as exc:
        plaintext = getattr(exc, "reason", None) == "HTTP_REQUEST"
        session.event("data", reason=f"tls handshake failed: {type(exc).__name__}",
                      detail=("plaintext HTTP on the TLS port: " if plaintext else "")
                      + str(exc)[:200])
        return False
    return True


async def upgrade_tls(session: Session, context: ssl.SSLContext,
                      handshake_timeout: float = 15.0, first: bytes = b"") -> None:
    """Server-side TLS on the session's stream (Session.start_tls), `first` already read."""
    await session.start_tls(context, initial=first, timeout=handshake_timeout)


# -- the loop -----------------------------------------------------------------------------
async def serve(session: Session, site: Site,
                before: Callable[[Session], Awaitable[None]] | None = None) -> None:
    """Answer requests on one connection until it closes, keep-alive ends or input is bad."""
    if before is not None:
        await before(session)
    for number in range(MAX_REQUESTS):
        try:
            request = await read_request(session, first=number == 0)
        except HttpError as exc:
            session.event("data", reason=exc.reason, data=exc.raw[:LOGGED_BODY] or None)
            response = site.error(exc.status, None)
            await session.send(render(response, "HTTP/1.1"))
            return
        if request is None:
            return
        record_request(session, request)
        response = await site.respond(session, request)
        version = request.version if site.echo_version else "HTTP/1.1"
        await session.send(render(response, version, head=request.method == "HEAD"))
        if response.close or not request.keep_alive:
            return
