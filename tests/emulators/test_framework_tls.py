"""Session.start_tls, the one TLS upgrade of the emulator framework, against a real client
TLS stack (ssl.SSLObject): a ClientHello in the same segment as the upgrade request, the
alert of a failed handshake, plaintext reads and writes through TLS afterwards."""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from tests.emulators.harness import EMULATORS

if str(EMULATORS) not in sys.path:
    sys.path.insert(0, str(EMULATORS))

from decnet_emu.events import EventWriter
from decnet_emu.persona import Persona
from decnet_emu.session import TLS_FAILURES, Session
from decnet_emu.tls import certificate_pem, server_context

Handler = Callable[[Session], Awaitable[None]]


def _client(maximum: ssl.TLSVersion | None = None) -> tuple[ssl.SSLObject, ssl.MemoryBIO,
                                                             ssl.MemoryBIO]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if maximum is not None:
        context.maximum_version = maximum
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    return context.wrap_bio(incoming, outgoing), incoming, outgoing


async def _serve(handler: Handler, client: Callable[[int], Awaitable[Any]]) -> Any:
    """Run `handler` on a loopback server, `client(port)` against it; the client's result."""
    events = EventWriter("test", stream=open(os.devnull, "w"))  # noqa: SIM115

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = Session(reader, writer, service="test", events=events, config={},
                          persona=Persona(hostname="tlstest"), idle_timeout=5)
        try:
            await handler(session)
        finally:
            session.end_tls(close_notify=True)
            writer.close()

    server = await asyncio.start_server(on_connection, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        return await asyncio.wait_for(client(port), 10)
    finally:
        server.close()


async def _handshake(tls: ssl.SSLObject, incoming: ssl.MemoryBIO, outgoing: ssl.MemoryBIO,
                     reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while True:
        try:
            tls.do_handshake()
            writer.write(outgoing.read())
            return
        except ssl.SSLWantReadError:
            writer.write(outgoing.read())
        data = await reader.read(65536)
        assert data, "server closed during the handshake"
        incoming.write(data)


async def _recv(tls: ssl.SSLObject, incoming: ssl.MemoryBIO,
                reader: asyncio.StreamReader, size: int) -> bytes:
    out = b""
    while len(out) < size:
        try:
            out += tls.read(65536)
            continue
        except ssl.SSLWantReadError:
            pass
        data = await reader.read(65536)
        if not data:
            break
        incoming.write(data)
    return out


def test_client_hello_in_the_upgrade_segment_and_plaintext_after() -> None:
    """STARTTLS and the ClientHello in one write (the old start_tls lost the hello and hung);
    afterwards read_line, read_exactly, reader.readuntil and send go through TLS."""

    async def handler(session: Session) -> None:
        assert await session.read_line() == b"STARTTLS\r\n"
        await session.start_tls(server_context(session.persona))
        line = await session.read_line()
        exact = await session.read_exactly(4)
        until = await session.reader.readuntil(b"!")
        await session.send(b"got " + line.strip() + b" " + exact + b" " + until)

    async def client(port: int) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        tls, incoming, outgoing = _client()
        with contextlib.suppress(ssl.SSLWantReadError):
            tls.do_handshake()
        writer.write(b"STARTTLS\r\n" + outgoing.read())  # one segment
        await _handshake(tls, incoming, outgoing, reader, writer)
        tls.write(b"hello\r\nABCDrest!")
        writer.write(outgoing.read())
        reply = await _recv(tls, incoming, reader, len(b"got hello ABCD rest!"))
        writer.close()
        return reply

    assert asyncio.run(_serve(handler, client)) == b"got hello ABCD rest!"


def test_failed_handshake_sends_the_alert(tmp_path: Path) -> None:
    """A hello the server cannot serve (TLS 1.2 at most to a TLS 1.3-only server) gets
    OpenSSL's fatal protocol_version alert, not a silently closed connection."""
    failures: list[BaseException] = []

    async def handler(session: Session) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_3
        context.load_cert_chain(*_cert_files(session, tmp_path))
        try:
            await session.start_tls(context)
        except TLS_FAILURES as exc:
            failures.append(exc)

    async def client(port: int) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        tls, _incoming, outgoing = _client(ssl.TLSVersion.TLSv1_2)
        with contextlib.suppress(ssl.SSLWantReadError):
            tls.do_handshake()
        writer.write(outgoing.read())
        reply = await reader.read(64)
        writer.close()
        return reply

    reply = asyncio.run(_serve(handler, client))
    assert reply[:1] == b"\x15" and reply[5:7] == b"\x02\x46"  # fatal protocol_version
    assert failures and isinstance(failures[0], ssl.SSLError)


def test_alert_hook_replaces_the_alert() -> None:
    """The alert hook sees the client's bytes (k8s answers plain HTTP as Go does)."""

    async def handler(session: Session) -> None:
        with contextlib.suppress(*TLS_FAILURES):
            await session.start_tls(server_context(session.persona),
                                    alert=lambda got, alert: b"HOOK " + got[:4])

    async def client(port: int) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\n\r\n")
        reply = await reader.read(64)
        writer.close()
        return reply

    assert asyncio.run(_serve(handler, client)) == b"HOOK GET "


def _cert_files(session: Session, folder: Path) -> tuple[str, str]:
    """The persona's certificate and key as files (for a context of the test's own)."""
    cert, key = certificate_pem(session.persona)
    paths = (str(folder / "c.pem"), str(folder / "k.pem"))
    for path, pem in zip(paths, (cert, key), strict=True):
        with open(path, "wb") as handle:
            handle.write(pem)
    return paths
