"""One TCP connection (or one UDP datagram) as a protocol module sees it."""

from __future__ import annotations

import asyncio
import os
import ssl
import time
from typing import Any

from decnet_emu.events import EventWriter
from decnet_emu.persona import Persona


class Session:
    """The attacker's connection: streams, addresses, config, persona and the event writer.

    `event(kind, **fields)` records one event; the framework adds `proto`, `dport`, `decky`
    and `session`. Reads time out after `idle_timeout` seconds (asyncio.TimeoutError).
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
        """Write and drain."""
        self.writer.write(data.encode() if isinstance(data, str) else data)
        await self.writer.drain()

    async def start_tls(self, context: ssl.SSLContext) -> None:
        """Upgrade this connection to TLS (STARTTLS, SSLRequest, ...).

        Bytes the client sent before the upgrade that the reader already holds (a ClientHello
        sent at once, as every TLS client does on implicit TLS) would be lost to asyncio's
        TLS protocol and the handshake would hang: they are handed to it once it is in place.
        """
        buffer = getattr(self.reader, "_buffer", None)  # CPython's StreamReader internals
        pending = bytes(buffer) if buffer else b""
        feeder = None
        if pending and buffer is not None:
            buffer.clear()
            feeder = asyncio.ensure_future(_feed_tls(self.writer.transport, pending))
        try:
            await self.writer.start_tls(context)
        finally:
            if feeder is not None and not feeder.done():
                feeder.cancel()
        # the reader is re-bound by asyncio to the TLS transport

    @property
    def duration(self) -> float:
        return time.monotonic() - self.started


async def _feed_tls(transport: asyncio.BaseTransport, data: bytes) -> None:
    """Give `data` to the TLS protocol asyncio installs on `transport`, once its handshake
    has started (loop.start_tls installs it and schedules connection_made)."""
    from asyncio import sslproto

    for _ in range(1000):
        protocol = transport.get_protocol()
        state = getattr(protocol, "_state", None)
        if isinstance(protocol, sslproto.SSLProtocol) and state is not None \
                and state.name != "UNWRAPPED":
            while data:
                view = protocol.get_buffer(len(data))
                size = min(len(view), len(data))
                view[:size] = data[:size]
                protocol.buffer_updated(size)
                data = data[size:]
            return
        await asyncio.sleep(0)


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
