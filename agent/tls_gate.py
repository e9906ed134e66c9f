"""Mutual TLS in front of uvicorn's HTTP protocol, with bounded cost before authentication.

uvicorn hands TLS to asyncio, whose per-connection TLS state (with a 256 KiB buffer) lives
as long as a client cares to stall its handshake: 2,000 connections that never start TLS
took the agent from 99 to 693 MiB. Here every connection starts as plain TCP: at most
`max_handshakes` handshakes run at once (more connections are closed at once, before any
TLS state exists), each must finish within `handshake_timeout` seconds, and only then is
the HTTP protocol attached to the TLS transport. Bad or missing client certificates fail
the handshake as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("decnet.agent")

DEFAULT_MAX_HANDSHAKES = 64
DEFAULT_HANDSHAKE_TIMEOUT = 10.0
MAX_EARLY_BYTES = 256 * 1024


@dataclass
class HandshakeGate:
    """Counts handshakes in progress and what was refused (shared by every connection)."""

    context: ssl.SSLContext
    max_handshakes: int = DEFAULT_MAX_HANDSHAKES
    handshake_timeout: float = DEFAULT_HANDSHAKE_TIMEOUT
    in_progress: int = 0
    refused: int = 0
    failed: int = 0
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


def gated_protocol(inner: type[asyncio.Protocol], gate: HandshakeGate) -> type[asyncio.Protocol]:
    """A protocol class for uvicorn's `http=` that does the TLS handshake under `gate`
    and then hands the connection to `inner` (uvicorn's own HTTP protocol)."""

    class GatedTls(asyncio.Protocol):
        def __init__(self, **kwargs: Any) -> None:
            self._kwargs = kwargs
            self._loop = kwargs.get("_loop") or asyncio.get_running_loop()
            self._early: list[bytes] = []  # application data that beat the hand-over
            self._eof = False
            self._overflow = False

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            assert isinstance(transport, asyncio.Transport)
            if gate.in_progress >= gate.max_handshakes:
                gate.refused += 1
                transport.abort()  # no TLS state is ever made for it
                return
            transport.pause_reading()  # start_tls reads the ClientHello itself
            gate.in_progress += 1
            task = self._loop.create_task(self._handshake(transport))
            gate.tasks.add(task)
            task.add_done_callback(gate.tasks.discard)

        async def _handshake(self, transport: asyncio.Transport) -> None:
            try:
                tls = await self._loop.start_tls(
                    transport, self, gate.context, server_side=True,
                    ssl_handshake_timeout=gate.handshake_timeout)
            except (TimeoutError, OSError, ssl.SSLError, ConnectionError, ValueError):
                gate.failed += 1
                transport.abort()
                return
            finally:
                gate.in_progress -= 1
            if tls is None or tls.is_closing():
                return
            if self._overflow:  # flooded before the hand-over: nothing sane to hand over
                tls.abort()
                return
            http = inner(**self._kwargs)
            tls.set_protocol(http)
            http.connection_made(tls)
            for data in self._early:
                http.data_received(data)
            if self._eof:
                http.eof_received()  # type: ignore[attr-defined]
            self._early.clear()

        def data_received(self, data: bytes) -> None:
            if sum(map(len, self._early)) + len(data) > MAX_EARLY_BYTES:
                self._overflow = True
                return
            self._early.append(data)

        def eof_received(self) -> bool | None:
            self._eof = True
            return True

        def connection_lost(self, exc: Exception | None) -> None:
            pass

    GatedTls.__name__ = f"GatedTls{inner.__name__}"
    return GatedTls


def server_context(cert: str, key: str, ca: str) -> ssl.SSLContext:
    """The agent's TLS context: its certificate, and client certificates from `ca` only."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    context.load_verify_locations(cafile=ca)
    context.verify_mode = ssl.CERT_REQUIRED
    return context


async def cancel_handshakes(gate: HandshakeGate) -> None:
    """Stop handshakes still in progress (the server is stopping)."""
    for task in list(gate.tasks):
        task.cancel()
    for task in list(gate.tasks):
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
