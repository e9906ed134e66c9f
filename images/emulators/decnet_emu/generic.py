"""The stand-in for a service without its own protocol module yet: listen and record.

Every connection still gives `connect` and `disconnect` (the framework's); this adds one
`data` event with the client's first bytes (up to 2 KiB, 15 s) and, for UDP, `datagram`.
"""

from __future__ import annotations

import asyncio

from decnet_emu.session import Datagram, Session


async def handle(session: Session) -> None:
    """Send the configured banner, if any, then record what the client says first."""
    banner = session.config.get("banner")
    if isinstance(banner, str) and banner:
        await session.send(banner.encode() + (b"" if banner.endswith("\n") else b"\r\n"))
    try:
        data = await asyncio.wait_for(session.reader.read(2048), 15)
    except TimeoutError:
        return
    if data:
        session.event("data", bytes=len(data), data=data[:256])


def datagram(dgram: Datagram, data: bytes) -> bytes | None:
    """Record one datagram; no answer."""
    dgram.event("datagram", bytes=len(data), data=data[:256])
    return None
