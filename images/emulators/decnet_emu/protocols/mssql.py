"""Microsoft SQL Server 2019/2022: TDS PRELOGIN, TLS inside TDS, LOGIN7 recorded, error 18456.

PRELOGIN is answered with the configured version and the encryption SQL Server picks: a
client that supports encryption but does not want it (ENCRYPT_OFF, e.g. impacket) gets OFF
and the TLS handshake runs inside PRELOGIN packets, then only the LOGIN7 packet is encrypted;
ENCRYPT_ON/REQ gets ON (the whole connection in TLS); ENCRYPT_NOT_SUP gets NOT_SUP (plain
login) unless `force_encryption`. TLS uses the persona's certificate, at most TLS 1.2 as
SQL Server does with TDS 7.x. LOGIN7's password is de-obfuscated (xor 0xA5, nibble swap) and
recorded; the answer is an ERROR token 18456 `Login failed for user 'x'.` (state 1, class 14)
and a DONE token with DONE_ERROR, as SQL Server sends. An integrated (SSPI) login gets 18452.

Config keys (service_config.mssql):
  version           product version `major.minor.build.sub` (default: the persona's
                    `versions.mssql`, else a SQL Server 2019 build chosen per persona, e.g.
                    `15.0.4335.1`; `16.0.x` is 2022)
  force_encryption  answer ENCRYPT_REQ and require TLS (default false)
  tls               offer TLS at all (default true; false answers NOT_SUP)

Events: `login` (username, password, hostname, app_name, database, server_name, library,
language, client_pid, tds_version (hex), encryption (the client's prelogin choice), tls
(login came encrypted), sspi (integrated login: size of its token), success=false);
`error` for a malformed stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import struct
from collections.abc import Awaitable, Callable
from typing import Any

from decnet_emu import tls
from decnet_emu.protocols import _win_ntlm as ntlm
from decnet_emu.session import Session
from decnet_emu.tls_stream import TlsStream

PRELOGIN = 0x12
LOGIN7 = 0x10
REPLY = 0x04
EOM = 0x01
ENCRYPT_OFF, ENCRYPT_ON, ENCRYPT_NOT_SUP, ENCRYPT_REQ = 0, 1, 2, 3
MAX_MESSAGE = 1 << 16
BUILDS_2019 = ("15.0.2000.5", "15.0.4153.1", "15.0.4236.7", "15.0.4298.1", "15.0.4335.1",
               "15.0.4355.3")

Reader = Callable[[int], Awaitable[bytes]]


def packet(kind: int, payload: bytes, packet_id: int = 1) -> bytes:
    """One TDS packet (end of message) of `kind`."""
    return struct.pack(">BBHHBB", kind, EOM, len(payload) + 8, 0, packet_id, 0) + payload


async def read_message(read_exactly: Reader) -> tuple[int, bytes]:
    """(type, payload) of one TDS message, its packets joined up to EOM."""
    payload = b""
    while True:
        kind, status, length = struct.unpack(">BBH", (await read_exactly(8))[:4])
        if length < 8 or len(payload) + length > MAX_MESSAGE:
            raise ConnectionError("bad TDS length")
        payload += await read_exactly(length - 8)
        if status & EOM:
            return kind, payload


def version_tuple(text: str) -> tuple[int, int, int, int]:
    parts = [int(p) for p in text.split(".") if p.isdigit()][:4]
    parts += [0] * (4 - len(parts))
    return parts[0], parts[1], parts[2], parts[3]


def parse_prelogin(data: bytes) -> dict[int, bytes]:
    """Option token -> value."""
    options: dict[int, bytes] = {}
    pos = 0
    while pos < len(data) and data[pos] != 0xFF and pos + 5 <= len(data):
        token, offset, length = struct.unpack_from(">BHH", data, pos)
        options[token] = data[offset:offset + length]
        pos += 5
    return options


def prelogin_reply(version: tuple[int, int, int, int], encryption: int, mars: bool) -> bytes:
    """VERSION, ENCRYPTION, INSTOPT, THREADID (empty) and MARS when the client sent it."""
    major, minor, build, sub = version
    values = [(0, struct.pack(">BBHH", major, minor, build, sub)), (1, bytes([encryption])),
              (2, b"\0"), (3, b"")]
    if mars:
        values.append((4, b"\0"))
    offset = 5 * len(values) + 1
    table, body = b"", b""
    for token, value in values:
        table += struct.pack(">BHH", token, offset + len(body), len(value))
        body += value
    return table + b"\xff" + body


def _deobfuscate(data: bytes) -> bytes:
    return bytes((((b ^ 0xA5) & 0x0F) << 4) | ((b ^ 0xA5) >> 4) for b in data)


def parse_login7(data: bytes) -> dict[str, Any]:
    """The LOGIN7 fields an attacker fills in; the password de-obfuscated."""
    def text(at: int, secret: bool = False) -> str:
        offset, chars = struct.unpack_from("<HH", data, at)
        raw = data[offset:offset + 2 * chars]
        return (_deobfuscate(raw) if secret else raw).decode("utf-16-le", "replace")

    tds_version, _, _, client_pid = struct.unpack_from("<IIII", data, 4)
    sspi_len = struct.unpack_from("<H", data, 80)[0] if len(data) >= 82 else 0
    return {"tds_version": f"{tds_version:08x}", "client_pid": client_pid,
            "hostname": text(36), "username": text(40), "password": text(44, True),
            "app_name": text(48), "server_name": text(52), "library": text(60),
            "language": text(64), "database": text(68), "sspi": sspi_len or None}


def error_token(number: int, state: int, severity: int, text: str, server: str,
                tds72: bool = True) -> bytes:
    """ERROR: LineNumber is a LONG from TDS 7.2 on, a USHORT before."""
    msg, srv = text.encode("utf-16-le"), server.encode("utf-16-le")
    body = (struct.pack("<iBB", number, state, severity) + struct.pack("<H", len(text)) + msg
            + bytes([len(server)]) + srv + b"\0" + struct.pack("<i" if tds72 else "<H", 1))
    return b"\xaa" + struct.pack("<H", len(body)) + body


def done_error(tds72: bool = True) -> bytes:
    """DONE with DONE_ERROR: the row count is 8 bytes from TDS 7.2 on, 4 before."""
    return b"\xfd" + struct.pack("<HHQ" if tds72 else "<HHI", 0x0002, 0, 0)


def sspi_token(data: bytes) -> bytes:
    return b"\xed" + struct.pack("<H", len(data)) + data


def _context(session: Session) -> ssl.SSLContext:
    # this process serves mssql alone: SQL Server speaks TLS 1.2 inside TDS 7.x
    context = tls.server_context(session.persona, session.config)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    return context


async def tds_handshake(session: Session) -> None:
    """The TLS handshake inside PRELOGIN packets, as SQL Server runs it; then the session
    reads and writes TLS records on the stream (Session.end_tls goes back to clear)."""
    stream = TlsStream(_context(session))
    while True:
        kind, data = await read_message(session.read_exactly)
        if kind != PRELOGIN:
            raise ConnectionError("TLS handshake outside PRELOGIN")
        try:
            done, out = stream.step(data)
        except ssl.SSLError:
            alert = stream.pending()
            if alert:
                await session.send(packet(PRELOGIN, alert))
            raise
        if out:
            await session.send(packet(PRELOGIN, out))
        if done:
            session.use_tls(stream)
            return


def _default_version(session: Session) -> str:
    """The persona's `versions.mssql`, else a SQL Server 2019 build chosen by its seed."""
    persona = session.persona
    return persona.version("mssql") or \
        BUILDS_2019[persona.number("mssql-build", len(BUILDS_2019))]


async def handle(session: Session) -> None:
    config = session.config
    version = version_tuple(str(config.get("version") or _default_version(session)))
    offer_tls = config.get("tls", True) not in (False, "false", "0", "no")
    force = config.get("force_encryption", False) in (True, "true", "1", "yes")
    try:
        first = await session.read_exactly(1)
        if first[0] not in (PRELOGIN, LOGIN7):
            return  # not TDS (a scanner's probe): SQL Server drops it at once

        async def resume(n: int) -> bytes:
            nonlocal first
            head, first = first, b""
            return head + await session.read_exactly(n - len(head))

        kind, data = await read_message(resume)
        client_enc = ENCRYPT_NOT_SUP
        in_tls = False
        full_tls = False
        if kind == PRELOGIN:
            options = parse_prelogin(data)
            client_enc = (options.get(1) or b"\x02")[0]
            answer = _encryption(client_enc, offer_tls, force)
            await session.send(packet(REPLY, prelogin_reply(version, answer, 4 in options)))
            if answer == ENCRYPT_REQ and client_enc == ENCRYPT_NOT_SUP:
                return
            if answer != ENCRYPT_NOT_SUP:
                await tds_handshake(session)
                in_tls, full_tls = True, answer in (ENCRYPT_ON, ENCRYPT_REQ)
            kind, data = await read_message(session.read_exactly)
        if kind != LOGIN7 or len(data) < 94:
            session.event("error", reason="short LOGIN7" if kind == LOGIN7 else
                          f"unexpected TDS message type {kind:#04x}")
            return
    except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, struct.error):
        return
    login = parse_login7(data)
    if not full_tls:  # after a login-only TLS, SQL Server goes on in clear
        session.end_tls()
    link = Link(session.read_exactly, session.send)
    fields = {"encryption": client_enc, "tls": in_tls, **login}
    tds72 = int(login["tds_version"], 16) >> 24 >= 0x72
    server = session.persona.hostname.upper()
    if login["sspi"]:
        number, text = 18452, ("Login failed. The login is from an untrusted domain and cannot "
                               "be used with Integrated authentication.")
        await _sspi(session, link, data, fields)
    else:
        number, text = 18456, f"Login failed for user '{login['username']}'."
        session.event("login", success=False, **fields)
    with contextlib.suppress(ConnectionError, OSError):
        await link.send(packet(REPLY, error_token(number, 1, 14, text, server, tds72)
                               + done_error(tds72)))


class Link:
    """Where the messages after LOGIN7 travel: the TLS channel or the plain stream."""

    def __init__(self, read_exactly: Reader, send: Callable[[bytes], Awaitable[None]]) -> None:
        self.read_exactly = read_exactly
        self.send = send


async def _sspi(session: Session, link: Link, data: bytes, fields: dict[str, Any]) -> None:
    """Integrated login: NTLM CHALLENGE in an SSPI token, AUTHENTICATE recorded."""
    offset, size = struct.unpack_from("<HH", data, 78)
    exchange = ntlm.Exchange(session.persona, session.config, session.id)
    try:
        challenge, _ = exchange.answer(data[offset:offset + size])
        if challenge is None:
            raise ValueError("no NEGOTIATE")
        await link.send(packet(REPLY, sspi_token(challenge)))
        _kind, reply = await read_message(link.read_exactly)
        _, auth = exchange.answer(reply)
    except (ValueError, struct.error, asyncio.IncompleteReadError, ConnectionError,
            ssl.SSLError):
        session.event("login", success=False, **fields)
        return
    if auth is not None:
        fields.update(auth.fields(exchange.challenge))
        fields["password"] = None
    session.event("login", **{"success": False, **fields})


def _encryption(client: int, offer_tls: bool, force: bool) -> int:
    """The ENCRYPTION value SQL Server answers to the client's."""
    if not offer_tls:
        return ENCRYPT_NOT_SUP
    if force:
        return ENCRYPT_REQ
    if client == ENCRYPT_NOT_SUP:
        return ENCRYPT_NOT_SUP
    if client == ENCRYPT_OFF:
        return ENCRYPT_OFF
    return ENCRYPT_ON
