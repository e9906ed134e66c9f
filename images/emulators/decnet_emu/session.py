"""One TCP connection (or one UDP datagram) as a protocol module sees it."""

from __future__ import annotations

import asyncio
import os
import ssl
import time
from typing import Any

from decnet_emu.events import EventWriter
from decnet_emu.persona import Persona
from decnet_emu.tls_stream import AlertHook, TlsStream

STREAM_LIMIT = 1 << 20  # the StreamReader limit (longest readline/readuntil)
TLS_FAILURES = (ssl.SSLError, ConnectionError, TimeoutError, asyncio.IncompleteReadError)


class Session:
    """The attacker's connection: streams, addresses, config, persona and the event writer.

    `event(kind, **fields)` records one event; the framework adds `proto`, `dport`, `decky`
    and `session`. Reads time out after `idle_timeout` seconds (asyncio.TimeoutError).
    After `start_tls` every read/send (and `reader`) carries the plaintext inside TLS.
    """

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        service: str,
        events: EventWriter,
        config: dict[str, Any],
        persona: Persona,
        proto: str = "tcp",
        src: tuple[str, int] = ("0.0.0.0", 0),
        dst: tuple[str, int] = ("0.0.0.0", 0),
        idle_timeout: float = 60.0,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.service = service
        self.config = config
        self.persona = persona
        self.proto = proto
        self.src_ip, self.src_port = _plain_ip(src[0]), int(src[1])
        self.dst_ip, self.dst_port = _plain_ip(dst[0]), int(dst[1])
        self.id = os.urandom(6).hex()
        self.started = time.monotonic()
        self.idle_timeout = idle_timeout
        self._events = events
        self._raw_reader = reader
        self._tls: TlsStream | None = None

    # -- events -------------------------------------------------------------------------
    def event(self, kind: str, **fields: Any) -> None:
        """Record one event of this session."""
        head: dict[str, Any] = {"proto": self.proto, "dport": self.dst_port,
                                "decky": self.persona.hostname, "session": self.id}
        head.update(fields)
        self._events.emit(kind, self.src_ip, self.src_port, head)

    # -- I/O ----------------------------------------------------------------------------
    async def read(self, n: int = 65536) -> bytes:
        """Up to n bytes (b"" at end of stream)."""
        return await asyncio.wait_for(self.reader.read(n), self.idle_timeout)

    async def read_exactly(self, n: int) -> bytes:
        """Exactly n bytes; asyncio.IncompleteReadError at end of stream."""
        return await asyncio.wait_for(self.reader.readexactly(n), self.idle_timeout)

    async def read_line(self, limit: int = 8192) -> bytes:
        """One line up to b"\\n" (kept), at most `limit` bytes; b"" at end of stream."""
        data = bytearray()
        while len(data) < limit:
            chunk = await asyncio.wait_for(self.reader.read(1), self.idle_timeout)
            if not chunk:
                break
            data += chunk
            if chunk == b"\n":
                break
        return bytes(data)

    async def send(self, data: bytes | str) -> None:
        """Write and drain (through TLS once it is on)."""
        raw = data.encode() if isinstance(data, str) else data
        if self._tls is not None:
            self._tls.write(self.writer, raw)
        else:
            self.writer.write(raw)
        await self.writer.drain()

    # -- TLS ----------------------------------------------------------------------------
    async def start_tls(self, context: ssl.SSLContext, *, initial: bytes = b"",
                        alert: AlertHook | None = None, timeout: float = 15.0) -> None:
        """Upgrade this connection to TLS (implicit TLS, STARTTLS, SSLRequest, ...).

        `initial`: bytes of the handshake the caller has already read; bytes still buffered
        in the reader are read by the handshake. A failed handshake sends OpenSSL's alert
        (or `alert(client_bytes, openssl_alert)`'s reply) and raises ssl.SSLError; also
        ConnectionError at end of stream, TimeoutError after `timeout` seconds (TLS_FAILURES).
        Afterwards read/read_line/read_exactly/send and `reader` carry plaintext.
        """
        stream = TlsStream(context)
        await asyncio.wait_for(stream.handshake(self._raw_reader, self.writer, initial, alert),
                               timeout)
        self.use_tls(stream)

    async def try_start_tls(self, context: ssl.SSLContext, *, initial: bytes = b"",
                            alert: AlertHook | None = None) -> bool:
        """`start_tls`, with a failed handshake recorded as an `error` event (then False)."""
        try:
            await self.start_tls(context, initial=initial, alert=alert)
        except TLS_FAILURES as exc:
            self.event("error", reason="tls handshake failed",
                       error=f"{type(exc).__name__}: {exc}"[:200])
            return False
        return True

    def use_tls(self, stream: TlsStream) -> None:
        """Carry the session inside `stream`, whose handshake is done (e.g. inside TDS)."""
        self.end_tls()
        self._tls = stream
        self.reader = stream.start(self._raw_reader, self.writer, STREAM_LIMIT)

    def end_tls(self, close_notify: bool = False) -> None:
        """Go on in clear (SQL Server after a login-only TLS); `close_notify` at the end of
        the connection (the framework does it when the handler returns)."""
        if self._tls is not None:
            self._tls.stop(self.writer if close_notify else None)
            self._tls = None
        self.reader = self._raw_reader

    @property
    def tls(self) -> bool:
        """True while the connection is inside TLS."""
        return self._tls is not None

    @property
    def duration(self) -> float:
        return time.monotonic() - self.started


def _plain_ip(address: str) -> str:
    """IPv4-mapped IPv6 addresses (dual-stack sockets) shown as plain IPv4."""
    return address[7:] if address.startswith("::ffff:") and "." in address else address


class Datagram:
    """One UDP datagram as a protocol module sees it (reply by returning bytes)."""

    def __init__(self, *, service: str, events: EventWriter, config: dict[str, Any],
                 persona: Persona, src: tuple[str, int], dst_port: int) -> None:
        self.service = service
        self.config = config
        self.persona = persona
        self.proto = "udp"
        self.src_ip, self.src_port = _plain_ip(src[0]), int(src[1])
        self.dst_port = dst_port
        self._events = events

    def event(self, kind: str, **fields: Any) -> None:
        head: dict[str, Any] = {"proto": "udp", "dport": self.dst_port,
                                "decky": self.persona.hostname}
        head.update(fields)
        self._events.emit(kind, self.src_ip, self.src_port, head)
