"""Listen on a service's ports and run its protocol module per connection or datagram.

Every TCP connection gives a `connect` event, the module's own events, then `disconnect`
with `duration_s`. Past `max_connections` open connections a new one is still recorded
(`refused`) and closed, never dropped silently. A module that fails is recorded (`error`).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import signal
import socket
import sys
from asyncio import sslproto
from types import ModuleType
from typing import Any

from decnet_emu.config import EmulatorConfig, Listen
from decnet_emu.events import EventWriter
from decnet_emu.session import STREAM_LIMIT, Datagram, Session, _plain_ip

# asyncio gives every TLS connection a read buffer of this size (256 KiB in CPython 3.11):
# 50 open TLS connections held 19 MiB. Two TLS records' worth is plenty (measured: bench/
# bench_emulator_memory.py, images/README.md "Memory").
TLS_READ_BUFFER = 32 * 1024
sslproto.SSLProtocol.max_size = TLS_READ_BUFFER


def load_protocol(service: str) -> ModuleType:
    """The protocol module of a service (`decnet_emu.protocols.<service>`), or the generic
    stand-in (`decnet_emu.generic`: connect, first bytes, disconnect) when it has none."""
    name = f"decnet_emu.protocols.{service}"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        print(f"decnet_emu: no protocol module for {service}: recording only",
              file=sys.stderr, flush=True)
        return importlib.import_module("decnet_emu.generic")


class Emulator:
    """The listeners of one service container."""

    def __init__(self, config: EmulatorConfig, events: EventWriter | None = None,
                 protocol: ModuleType | None = None) -> None:
        self.config = config
        self.events = events or EventWriter(config.service)
        self.protocol = protocol or load_protocol(config.service)
        self.active = 0
        self._servers: list[Any] = []
        self._transports: list[asyncio.BaseTransport] = []

    # -- TCP ----------------------------------------------------------------------------
    async def _on_connection(self, reader: asyncio.StreamReader,
                             writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername") or ("0.0.0.0", 0)
        local = writer.get_extra_info("sockname") or ("0.0.0.0", 0)
        session = Session(reader, writer, service=self.config.service, events=self.events,
                          config=self.config.config, persona=self.config.persona,
                          src=(peer[0], peer[1]), dst=(local[0], local[1]))
        if self.active >= self.config.max_connections:
            session.event("refused", reason="connection limit", limit=self.config.max_connections)
            writer.close()
            return
        self.active += 1
        session.event("connect")
        try:
            await asyncio.wait_for(self.protocol.handle(session), self.config.conn_timeout)
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError, OSError):
            pass
        except Exception as exc:  # a protocol bug: record it, keep serving
            session.event("error", error=f"{type(exc).__name__}: {exc}"[:200])
        finally:
            self.active -= 1
            session.event("disconnect", duration_s=f"{session.duration:.3f}")
            session.end_tls(close_notify=True)
            with contextlib.suppress(Exception):  # already gone
                writer.close()

    async def _listen_tcp(self, listen: Listen) -> None:
        server = await asyncio.start_server(self._on_connection, sock=_tcp_socket(
            self.config.host, listen.port), limit=STREAM_LIMIT)
        self._servers.append(server)

    # -- UDP ----------------------------------------------------------------------------
    async def _listen_udp(self, listen: Listen) -> None:
        loop = asyncio.get_running_loop()
        emulator = self

        class _Protocol(asyncio.DatagramProtocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                self.transport = transport

            def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
                emulator._on_datagram(self.transport, data, addr, listen.port)

        transport, _ = await loop.create_datagram_endpoint(
            _Protocol, sock=_udp_socket(self.config.host, listen.port))
        self._transports.append(transport)

    def _on_datagram(self, transport: Any, data: bytes, addr: tuple[Any, ...],
                     port: int) -> None:
        handler = getattr(self.protocol, "datagram", None)
        dgram = Datagram(service=self.config.service, events=self.events,
                         config=self.config.config, persona=self.config.persona,
                         src=(addr[0], addr[1]), dst_port=port)
        if handler is None:
            dgram.event("datagram", bytes=len(data), data=data[:256])
            return
        try:
            reply = handler(dgram, data)
        except Exception as exc:  # a malformed datagram the module could not take
            dgram.event("error", error=f"{type(exc).__name__}: {exc}"[:200], bytes=len(data))
            return
        if reply:
            transport.sendto(reply, addr)

    # -- life cycle ---------------------------------------------------------------------
    async def start(self) -> None:
        for listen in self.config.ports:
            if listen.proto == "udp":
                await self._listen_udp(listen)
            else:
                await self._listen_tcp(listen)
            print(f"decnet_emu: {self.config.service} listening on {listen.port}/{listen.proto}",
                  file=sys.stderr, flush=True)

    def close(self) -> None:
        for server in self._servers:
            server.close()
        for transport in self._transports:
            transport.close()

    async def serve_forever(self) -> None:
        await self.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):  # not main thread
                loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        self.close()


def _socket(host: str, port: int, kind: int) -> socket.socket:
    """A dual-stack socket on `::` when IPv6 works, else IPv4 on 0.0.0.0 (or `host`)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.socket(family, kind)
    except OSError:
        family, host = socket.AF_INET, "0.0.0.0"
        sock = socket.socket(family, kind)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    try:
        sock.bind((host, port))
    except OSError:
        if family != socket.AF_INET6:
            raise
        sock.close()
        sock = socket.socket(socket.AF_INET, kind)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("0.0.0.0", port))
    if kind == socket.SOCK_STREAM:
        sock.listen(512)
    sock.setblocking(False)
    return sock


def _tcp_socket(host: str, port: int) -> socket.socket:
    return _socket(host, port, socket.SOCK_STREAM)


def _udp_socket(host: str, port: int) -> socket.socket:
    return _socket(host, port, socket.SOCK_DGRAM)


__all__ = ["Emulator", "_plain_ip", "load_protocol"]
