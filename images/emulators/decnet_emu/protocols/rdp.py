"""rdp: Microsoft Terminal Services up to Network Level Authentication (CredSSP/NTLM).

* X.224 Connection Request: the `mstshash=` cookie (the user name mstsc, xfreerdp and most
  scanners send) is recorded as a `login` event (`username`, `mech` mstshash, no password),
  with the requested security protocols.
* Connection Confirm with an RDP Negotiation Response as Windows sends it: HYBRID (NLA) when
  the client offers it, else TLS when `nla` is false, else the failure Windows returns
  (HYBRID_REQUIRED_BY_SERVER / SSL_REQUIRED_BY_SERVER).
* Then real TLS with the persona certificate; under NLA the CredSSP TSRequest carries
  NTLMSSP: a CHALLENGE (persona names, Windows version) is sent, the AUTHENTICATE recorded
  as `login` (`username`, `domain`, `workstation`, `challenge`, `hash` NetNTLMv2 in 256-byte
  parts) and refused with errorCode STATUS_LOGON_FAILURE. After plain TLS the first MCS
  bytes are recorded (`data`) and the connection closed.

Config: `nla` (default true).
"""

from __future__ import annotations

import asyncio
import struct

from decnet_emu.protocols import _win_ber as ber
from decnet_emu.protocols import _win_ntlm as ntlm
from decnet_emu.protocols import _win_tls
from decnet_emu.session import Session

PROTOCOL_RDP, PROTOCOL_SSL, PROTOCOL_HYBRID = 0, 1, 2
SSL_REQUIRED_BY_SERVER, HYBRID_REQUIRED_BY_SERVER = 1, 5
STATUS_LOGON_FAILURE = 0xC000006D
MAX_TPKT = 4096
MAX_TSREQUEST = 64 * 1024


async def read_tpkt(session: Session) -> bytes | None:
    """One TPKT (header included); None at a clean end; ValueError when not TPKT."""
    try:
        head = await session.read_exactly(4)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise ValueError("truncated TPKT header") from exc
        return None
    size = struct.unpack(">H", head[2:])[0]
    if head[:2] != b"\x03\x00" or not 7 <= size <= MAX_TPKT:
        raise ValueError(f"not TPKT: {head!r}")
    return head + await session.read_exactly(size - 4)


def parse_request(tpkt: bytes) -> tuple[str, str, int | None]:
    """(cookie user, routing token, requested protocols or None) of a Connection Request."""
    if len(tpkt) < 11 or tpkt[5] & 0xF0 != 0xE0:
        raise ValueError("not an X.224 Connection Request")
    rest = tpkt[11:5 + tpkt[4]] if tpkt[4] + 5 <= len(tpkt) else tpkt[11:]
    user = token = ""
    if rest.startswith(b"Cookie: "):
        line, _, rest = rest.partition(b"\r\n")
        text = line[8:].decode("latin-1", "replace")
        if text.startswith("mstshash="):
            user = text[9:]
        else:
            token = text
    requested = None
    if len(rest) >= 8 and rest[0] == 0x01:
        requested = struct.unpack_from("<I", rest, 4)[0]
    return user, token, requested


def confirm(selected: int | None, failure: int = 0) -> bytes:
    """Connection Confirm with a negotiation response (or failure)."""
    if failure:
        neg = struct.pack("<BBHI", 0x03, 0, 8, failure)
    elif selected is None:
        neg = b""
    else:
        neg = struct.pack("<BBHI", 0x02, 0x1F, 8, selected)
    x224 = bytes([6 + len(neg), 0xD0, 0, 0, 0x12, 0x34, 0]) + neg
    return struct.pack(">BBH", 3, 0, 4 + len(x224)) + x224


def ts_request(version: int, token: bytes | None = None, error: int | None = None) -> bytes:
    body = ber.tlv(0xA0, ber.integer(version))
    if token is not None:
        body += ber.tlv(0xA1, ber.tlv(ber.SEQUENCE, ber.tlv(ber.SEQUENCE, ber.tlv(
            0xA0, ber.octets(token)))))
    if error is not None:
        body += ber.tlv(0xA4, ber.integer(error - (1 << 32) if error >= 1 << 31 else error))
    return ber.tlv(ber.SEQUENCE, body)


def parse_ts_request(raw: bytes) -> tuple[int, bytes]:
    """(version, first negoToken) of a TSRequest."""
    tag, body, _ = ber.read(raw)
    if tag != ber.SEQUENCE:
        raise ValueError("not a TSRequest")
    fields = dict(ber.items(body, 8))
    version = ber.to_int(ber.read(fields.get(0xA0, b"\x02\x01\x02"))[1])
    token = b""
    if 0xA1 in fields:
        _, tokens, _ = ber.read(fields[0xA1])
        _, first, _ = ber.read(tokens)
        _, wrapped, _ = ber.read(first)
        token = ber.read(wrapped)[1]
    return version, token


async def credssp(session: Session) -> None:
    """NLA: NTLM inside CredSSP TSRequests, over the TLS already started."""
    exchange = ntlm.Exchange(session.persona, session.config, session.id)
    for _ in range(3):
        raw = await ber.read_element(session, MAX_TSREQUEST, ber.SEQUENCE)
        if not raw:
            return
        version, token = parse_ts_request(raw)
        answer = min(max(version, 2), 6)
        out, auth = exchange.answer(token)
        if out is not None:
            await session.send(ts_request(answer, out))
            continue
        assert auth is not None
        session.event("login", **auth.fields(exchange.challenge), protocol="CredSSP")
        if version >= 3:
            await session.send(ts_request(answer, error=STATUS_LOGON_FAILURE))
        return


async def handle(session: Session) -> None:
    try:
        request = await read_tpkt(session)
        if request is None:
            return
        user, token, requested = parse_request(request)
    except ValueError as exc:
        session.event("data", error=str(exc)[:200])
        return
    nla = session.config.get("nla", True) not in (False, "false")
    session.event("login", username=user, mech="mstshash", success=False,
                  routing_token=token or None,
                  requested=None if requested is None else f"{requested:#x}")
    offered = requested or 0
    if nla and offered & PROTOCOL_HYBRID:
        selected = PROTOCOL_HYBRID
    elif offered & PROTOCOL_SSL and not nla:
        selected = PROTOCOL_SSL
    else:
        failure = HYBRID_REQUIRED_BY_SERVER if nla else SSL_REQUIRED_BY_SERVER
        await session.send(confirm(None, failure))
        return
    await session.send(confirm(selected))
    await session.start_tls(_win_tls.server_context(session.persona, session.config))
    try:
        if selected == PROTOCOL_HYBRID:
            await credssp(session)
        else:
            first = await session.read(4096)
            if first:
                session.event("data", bytes=len(first), data=first[:256])
    except ValueError as exc:
        session.event("data", error=str(exc)[:200])
