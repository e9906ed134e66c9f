"""PostgreSQL 15 server: SSLRequest (TLS), startup, SCRAM-SHA-256 / MD5 / cleartext, 28P01.

SSLRequest is answered `S` and the connection switches to TLS with the persona's certificate
(or `N` when `tls` is false); GSSENCRequest is answered `N`. The StartupMessage's user,
database and application_name are recorded with the credentials. SCRAM-SHA-256 (the PG 15
default) records the three exchange messages, from which the proof can be cracked offline:
AuthMessage = client_first without its GS2 header + "," + server_first + "," + client_final
without ",p=...". The salt is derived per user from the persona (a server offers the same
salt for a role every time, as PostgreSQL's mock salts do). Every attempt ends with
`FATAL 28P01 password authentication failed for user "x"`. A startup packet of an unknown
protocol version (nmap's probes) gets the `0A000` error of PostgreSQL 15's postmaster.

Config keys (service_config.postgres):
  version     server version (default: the persona's `versions.postgres`, else `15.8`);
              only its major version shows before authentication (the postmaster line
              in the unsupported-protocol error nmap fingerprints)
  auth        `scram-sha-256` (default), `md5` or `password` (cleartext)
  tls         answer SSLRequest with `S` and TLS (default true)
  iterations  SCRAM iteration count (default 4096)

Events: `login` (username, database, application_name, mech, tls, success=false and
for scram: salt (base64), iterations, client_first, server_first, client_final, proof
(base64); for md5: salt (hex), hash (`md5...`); for password: password); `tls_request`
when the client switches to TLS; `error` on an unsupported protocol version.
"""

from __future__ import annotations

import asyncio
import base64
import os
import ssl
import struct
from typing import Any

from decnet_emu import tls
from decnet_emu.session import Session

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CANCEL_REQUEST = 80877102
PROTOCOL_3 = 196608
MAX_STARTUP = 10000
# postmaster.c line of the "unsupported frontend protocol" error, by major version
POSTMASTER_LINE = {13: 2133, 14: 2138, 15: 2194}


def major_version(session: Session) -> int:
    text = str(session.config.get("version") or session.persona.version("postgres", "15.8"))
    digits = text.split(".", 1)[0].strip()
    return int(digits) if digits.isdigit() else 15


def message(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!I", len(body) + 4) + body


def error_response(code: str, text: str, file: str, line: int, routine: str,
                   severity: str = "FATAL") -> bytes:
    """An ErrorResponse with the fields PostgreSQL 15 sends (S, V, C, M, F, L, R)."""
    fields = [("S", severity), ("V", severity), ("C", code), ("M", text), ("F", file),
              ("L", str(line)), ("R", routine)]
    body = b"".join(k.encode() + v.encode("utf-8") + b"\0" for k, v in fields) + b"\0"
    return message(b"E", body)


def parse_startup(body: bytes) -> dict[str, str]:
    """The key/value pairs after the protocol version."""
    parts = body.split(b"\0")
    params: dict[str, str] = {}
    for key, value in zip(parts[0::2], parts[1::2], strict=False):
        if not key:
            break
        params[key.decode("utf-8", "replace")] = value.decode("utf-8", "replace")
    return params


async def _read_typed(session: Session) -> tuple[bytes, bytes]:
    head = await session.read_exactly(5)
    size = struct.unpack("!I", head[1:])[0]
    if size < 4 or size > MAX_STARTUP:
        raise ConnectionError("bad message length")
    return head[:1], await session.read_exactly(size - 4)


async def handle(session: Session) -> None:
    config = session.config
    use_tls = config.get("tls", True) not in (False, "false", "0", "no")
    secure = False
    while True:
        size = struct.unpack("!I", await session.read_exactly(4))[0]
        if size < 8 or size > MAX_STARTUP:
            return  # PostgreSQL logs "invalid length of startup packet" and closes
        rest = await session.read_exactly(size - 4)
        code, body = struct.unpack("!I", rest[:4])[0], rest[4:]
        if code == SSL_REQUEST and not secure:
            if use_tls:
                await session.send(b"S")
                session.event("tls_request")
                if not await session.try_start_tls(tls.server_context(session.persona, config)):
                    return
                secure = True
            else:
                await session.send(b"N")
            continue
        if code == GSSENC_REQUEST:
            await session.send(b"N")
            continue
        if code == CANCEL_REQUEST:
            return
        break
    if code >> 16 != 3:
        text = (f"unsupported frontend protocol {code >> 16}.{code & 0xFFFF}: "
                "server supports 3.0 to 3.0")
        session.event("error", reason=text)
        line = POSTMASTER_LINE.get(major_version(session), 2194)
        await session.send(error_response("0A000", text, "postmaster.c", line,
                                          "ProcessStartupPacket"))
        return
    params = parse_startup(body)
    user = params.get("user", "")
    if not user:
        await session.send(error_response(
            "28000", "no PostgreSQL user name specified in startup packet",
            "postmaster.c", 2262, "ProcessStartupPacket"))
        return
    fields: dict[str, Any] = {"username": user, "database": params.get("database", user),
                              "application_name": params.get("application_name") or None,
                              "tls": secure}
    method = str(config.get("auth") or "scram-sha-256").lower()
    got = False
    try:
        if method == "md5":
            got = await _md5(session, fields)
        elif method == "password":
            got = await _cleartext(session, fields)
        else:
            got = await _scram(session, user, secure, fields)
    except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
        got = "mech" in fields
        return
    finally:
        if got:
            session.event("login", success=False, **fields)
    await session.send(error_response(
        "28P01", f'password authentication failed for user "{user}"', "auth.c", 326,
        "auth_failed"))


async def _password_message(session: Session) -> bytes | None:
    kind, body = await _read_typed(session)
    return body if kind == b"p" else None


async def _cleartext(session: Session, fields: dict[str, Any]) -> bool:
    await session.send(message(b"R", struct.pack("!I", 3)))
    body = await _password_message(session)
    if body is None:
        return False
    fields.update(mech="password", password=body.split(b"\0", 1)[0])
    return True


async def _md5(session: Session, fields: dict[str, Any]) -> bool:
    salt = os.urandom(4)
    await session.send(message(b"R", struct.pack("!I", 5) + salt))
    fields.update(mech="md5", salt=salt.hex())
    body = await _password_message(session)
    if body is None:
        return False
    fields["hash"] = body.split(b"\0", 1)[0]
    return True


async def _scram(session: Session, user: str, secure: bool, fields: dict[str, Any]) -> bool:
    mechanisms = b"SCRAM-SHA-256\0" + (b"SCRAM-SHA-256-PLUS\0" if secure else b"") + b"\0"
    await session.send(message(b"R", struct.pack("!I", 10) + mechanisms))
    body = await _password_message(session)
    if body is None:
        return False
    mech, _, rest = body.partition(b"\0")
    length = struct.unpack("!i", rest[:4])[0] if len(rest) >= 4 else -1
    client_first = rest[4:4 + length] if length > 0 else b""
    salt = session.persona.derive(f"postgres-scram-salt/{user}", 16)
    iterations = int(config_iterations(session.config))
    fields.update(mech=mech.decode("ascii", "replace"), client_first=client_first,
                  salt=base64.b64encode(salt).decode(), iterations=iterations)
    bare = client_first.split(b",", 2)[-1]
    client_nonce = next((p[2:] for p in bare.split(b",") if p.startswith(b"r=")), b"")
    server_nonce = base64.b64encode(os.urandom(18))
    server_first = (b"r=" + client_nonce + server_nonce + b",s=" + base64.b64encode(salt)
                    + b",i=" + str(iterations).encode())
    fields["server_first"] = server_first
    await session.send(message(b"R", struct.pack("!I", 11) + server_first))
    final = await _password_message(session)
    if final is None:
        return True
    fields["client_final"] = final
    proof = next((p[2:] for p in final.split(b",") if p.startswith(b"p=")), b"")
    fields["proof"] = proof
    return True


def config_iterations(config: dict[str, Any]) -> int:
    try:
        return max(1, int(config.get("iterations") or 4096))
    except (TypeError, ValueError):
        return 4096
