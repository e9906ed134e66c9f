"""TLS from the first byte (https, k8s): the handshake without losing the ClientHello.

A client speaking implicit TLS sends its ClientHello as soon as it connects; asyncio's
StreamReader may already hold it when `StreamWriter.start_tls` swaps the transport's protocol,
and those bytes never reach the TLS layer (the handshake then hangs until its timeout).
`start_tls` reads the first record itself and hands it to the TLS protocol once that is in
place. Reading it first also answers what asyncio would answer with silence (it drops the
alert OpenSSL queues when a handshake fails): a hello below the minimum version gets the
`protocol_version` alert a Go server sends (what nmap's SSL probe recognises), and a
plaintext HTTP request gets Go's `Client sent an HTTP request to an HTTPS server.`
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import Any

from decnet_emu.session import Session

TLS12 = 0x0303
PROTOCOL_VERSION_ALERT = b"\x15\x03\x01\x00\x02\x02\x46"  # fatal protocol_version, TLS 1.0 record
GO_PLAINTEXT_REPLY = b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an " \
    b"HTTPS server.\n"
HTTP_STARTS = (b"GET /", b"HEAD ", b"POST ", b"PUT /", b"OPTIO")


class _QuietEof(logging.Filter):
    """asyncio warns on every TLS client that closes first (StreamReaderProtocol keeps
    half-closed connections open, which TLS cannot): noise in the container's log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "eof_received() has no effect when using ssl" not in record.getMessage()


logging.getLogger("asyncio").addFilter(_QuietEof())


class NotTls(Exception):
    """The client did not start with a TLS handshake record (answered already)."""


def _feed(protocol: Any, data: bytes) -> None:
    """Give `data` to a protocol as if the transport had received it."""
    if not data:
        return
    if isinstance(protocol, asyncio.BufferedProtocol):
        view = memoryview(data)
        while view:
            buffer = memoryview(protocol.get_buffer(len(view)))
            size = min(len(buffer), len(view))
            if not size:
                raise RuntimeError("TLS protocol gave an empty buffer")
            buffer[:size] = view[:size]
            protocol.buffer_updated(size)
            view = view[size:]
    else:
        protocol.data_received(data)


def hello_version(record: bytes) -> int:
    """The highest version a ClientHello record offers (supported_versions or legacy)."""
    body = record[5:]
    if len(body) < 6 or body[0] != 1:
        return 0
    legacy = int.from_bytes(body[4:6], "big")
    at = 6 + 32
    try:
        at += 1 + body[at]                                      # session id
        at += 2 + int.from_bytes(body[at:at + 2], "big")        # cipher suites
        at += 1 + body[at]                                      # compression methods
        end = at + 2 + int.from_bytes(body[at:at + 2], "big")   # extensions
        at += 2
        while at + 4 <= min(end, len(body)):
            kind = int.from_bytes(body[at:at + 2], "big")
            size = int.from_bytes(body[at + 2:at + 4], "big")
            if kind == 0x002B:
                data = body[at + 5:at + 4 + size]
                offered = [int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2)
                           if (data[i] & 0x0F) != 0x0A]         # GREASE values are xAxA
                return max(offered, default=legacy)
            at += 4 + size
    except IndexError:
        return legacy
    return legacy


async def _first_record(session: Session, min_version: int) -> bytes:
    head = await session.read_exactly(5)
    if head[0] != 0x16:
        if head in HTTP_STARTS:
            await session.send(GO_PLAINTEXT_REPLY)
            raise NotTls("plaintext HTTP on the TLS port")
        raise NotTls("not a TLS record")
    record = head + await session.read_exactly(int.from_bytes(head[3:5], "big"))
    if hello_version(record) < min_version:
        await session.send(PROTOCOL_VERSION_ALERT)
        raise ssl.SSLError(f"client offers at most TLS version {hello_version(record):#06x}")
    return record


async def start_tls(session: Session, context: ssl.SSLContext,
                    min_version: int = TLS12) -> None:
    """Upgrade the connection to TLS at once, the bytes already read included."""
    reader = session.reader
    first = await _first_record(session, min_version)
    buffered = first + bytes(getattr(reader, "_buffer", b""))
    reader._buffer.clear()  # type: ignore[attr-defined]
    transport = session.writer.transport
    before = transport.get_protocol()
    task = asyncio.ensure_future(session.start_tls(context))
    while transport.get_protocol() is before and not task.done():
        await asyncio.sleep(0)
    if not task.done():
        # queued after the TLS protocol's connection_made, which start_tls already scheduled
        asyncio.get_running_loop().call_soon(_feed, transport.get_protocol(), buffered)
    await task


async def handshake(session: Session, context: ssl.SSLContext) -> bool:
    """`start_tls`; a failed handshake or a client not speaking TLS is a `data` event."""
    try:
        await asyncio.wait_for(start_tls(session, context), session.idle_timeout)
    except (NotTls, ssl.SSLError, ConnectionError, TimeoutError, RuntimeError,
            asyncio.IncompleteReadError) as exc:
        session.event("data", reason=f"tls handshake failed: {type(exc).__name__}",
                      detail=str(exc)[:200])
        return False
    return True
