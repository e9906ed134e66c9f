"""TLS from the first byte (https, k8s): the handshake without losing the ClientHello.

A client speaking implicit TLS sends its ClientHello as soon as it connects; asyncio's
StreamReader may already hold it when `StreamWriter.start_tls` swaps the transport's protocol,
and those bytes never reach the TLS layer (the handshake then hangs until its timeout).
`start_tls` hands whatever the reader holds to the TLS protocol once it is in place.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

from decnet_emu.session import Session


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


async def start_tls(session: Session, context: ssl.SSLContext) -> None:
    """Upgrade the connection to TLS at once, the bytes already read included."""
    reader = session.reader
    buffered = bytes(getattr(reader, "_buffer", b""))
    if buffered:
        reader._buffer.clear()  # type: ignore[attr-defined]
    transport = session.writer.transport
    before = transport.get_protocol()
    task = asyncio.ensure_future(session.start_tls(context))
    while transport.get_protocol() is before and not task.done():
        await asyncio.sleep(0)
    if buffered and not task.done():
        # queued after the TLS protocol's connection_made, which start_tls already scheduled
        asyncio.get_running_loop().call_soon(_feed, transport.get_protocol(), buffered)
    await task


async def handshake(session: Session, context: ssl.SSLContext) -> bool:
    """`start_tls`; a failed handshake is a `data` event (False)."""
    try:
        await asyncio.wait_for(start_tls(session, context), session.idle_timeout)
    except (ssl.SSLError, ConnectionError, TimeoutError, RuntimeError) as exc:
        session.event("data", reason=f"tls handshake failed: {type(exc).__name__}",
                      detail=str(exc)[:200])
        return False
    return True
