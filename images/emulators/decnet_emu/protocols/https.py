"""HTTPS (port 443): the http emulator behind real TLS with the persona's certificate.

What runs: Python's ssl (decnet_emu.tls.server_context: a certificate for the persona's
FQDN, derived from its seed, or `tls_cert`/`tls_key` from the config), TLS 1.2 and 1.3,
then exactly the http site (same config keys and events as http.py). Plain HTTP sent to
the port gets the server's own answer (Apache: 400 "You're speaking plain HTTP to an
SSL-enabled server port", nginx: "The plain HTTP request was sent to HTTPS port", IIS: the
connection closed) and is a `request` event with `tls=false`. A ClientHello that cannot be
served gets the TLS alert a real server sends (nmap's probes rely on it); a failed handshake
is a `data` event (`reason`, `detail`). nmap -sV names "ssl/http Apache httpd 2.4.57
((Debian))".
"""

from __future__ import annotations

from decnet_emu.protocols._http_core import (
    HttpError,
    read_request,
    record_request,
    render,
    serve,
    start_tls,
)
from decnet_emu.protocols.http import WebSite, site_for
from decnet_emu.session import Session

TLS_HANDSHAKE = 0x16


async def handle(session: Session) -> None:
    site = site_for(session)
    first = await session.read(1)
    if not first:
        return
    if first[0] != TLS_HANDSHAKE and first.isalpha():
        await _plain_http(session, site, first)
    elif await start_tls(session, first=first):
        await serve(session, site)


async def _plain_http(session: Session, site: WebSite, first: bytes) -> None:
    """A plain HTTP request on the TLS port: recorded, answered as the server would."""
    try:
        request = await read_request(session, prefix=first)
    except HttpError as exc:
        session.event("data", reason=f"plain http on tls port: {exc.reason}",
                      data=exc.raw[:256] or None)
        request = None
    else:
        if request is not None:
            record_request(session, request, tls=False)
    response = site.plain_http_on_tls(request)
    if response is not None:
        await session.send(render(response, "HTTP/1.1",
                                  head=request is not None and request.method == "HEAD"))
