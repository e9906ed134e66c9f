"""HTTPS: the http emulator behind TLS with the persona's certificate."""

from __future__ import annotations

from decnet_emu.protocols._http_core import serve, start_tls
from decnet_emu.protocols.http import site_for
from decnet_emu.session import Session


async def handle(session: Session) -> None:
    if await start_tls(session):
        await serve(session, site_for(session))
