"""HTTPS (port 443): the http emulator behind real TLS with the persona's certificate.

What runs: Python's ssl (decnet_emu.tls.server_context: a certificate for the persona's
FQDN, derived from its seed, or `tls_cert`/`tls_key` from the config), TLS 1.2 and 1.3,
then exactly the http site (same config keys and events as http.py). A client whose
ClientHello cannot be served gets the TLS alert a real server sends (nmap's probes rely on
it); a failed handshake is a `data` event (`reason`, `detail`). nmap -sV names "ssl/http
Apache httpd 2.4.57 ((Debian))".
"""

from __future__ import annotations

from decnet_emu.protocols._http_core import serve, start_tls
from decnet_emu.protocols.http import site_for
from decnet_emu.session import Session


async def handle(session: Session) -> None:
    if await start_tls(session):
        await serve(session, site_for(session))
