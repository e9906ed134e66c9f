"""MySQL 8.0 server: handshake v10, optional TLS, native and caching_sha2 auth, ERR 1045.

The greeting carries a random 20-byte salt per connection; the client's scramble is recorded
together with that salt, so it can be cracked offline (`hash` is hashcat's `$mysqlna$` form
for mysql_native_password). caching_sha2_password goes on to "full authentication": over
TLS the client then sends the password in clear, without TLS it asks for the server's RSA
key and sends the password encrypted with it; either way the password is recorded. Every
attempt ends in `ERR 1045 (28000): Access denied for user 'x'@'src' (using password: YES)`.

Config keys (service_config.mysql):
  version      server version in the greeting (default: the persona's `versions.mysql`,
               else `8.0.36`); a MariaDB version (`10.11.6-MariaDB-0+deb12u1`) is
               announced as MariaDB does (`5.5.5-` prefix, mysql_native_password)
  auth_plugin  `caching_sha2_password` (default for MySQL 8.0) or `mysql_native_password`
               (default for MariaDB); a client answering with the other plugin gets an
               AuthSwitchRequest
  tls          advertise CLIENT_SSL and accept the TLS switch (default true)

Events: `login` (username, database, plugin, salt (hex), scramble (hex), hash (native only),
password (when full authentication got it), client_plugin, tls, attrs (connect attributes:
`_client_name`, `program_name`, ...), success=false); `tls_request` when the client switches
to TLS; `error` on a malformed handshake (answered `ERR 1043 (08S01): Bad handshake`).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import ssl
import struct
from typing import Any

from decnet_emu import tls
from decnet_emu.session import Session

NATIVE = "mysql_native_password"
SHA2 = "caching_sha2_password"

CLIENT_LONG_PASSWORD = 0x1
CLIENT_CONNECT_WITH_DB = 0x8
CLIENT_COMPRESS = 0x20
CLIENT_SSL = 0x800
CLIENT_SECURE_CONNECTION = 0x8000
CLIENT_PLUGIN_AUTH = 1 << 19
CLIENT_CONNECT_ATTRS = 1 << 20
CLIENT_LENENC_DATA = 1 << 21
CLIENT_ZSTD = 1 << 26
SERVER_CAPS = 0xDFFFFFFF & ~CLIENT_COMPRESS & ~CLIENT_ZSTD  # what 8.0 offers, minus compression
UTF8MB4_0900_AI_CI = 255
UTF8MB4_GENERAL_CI = 45
SERVER_STATUS_AUTOCOMMIT = 0x0002

_ids: itertools.count[int] | None = None  # connection ids, from a persona-derived start
_rsa_key: Any = None


def _salt() -> bytes:
    """20 bytes as MySQL makes them: 7-bit, never NUL or '$'."""
    out = bytearray(b & 0x7F for b in os.urandom(20))
    for i, b in enumerate(out):
        if b in (0, ord("$")):
            out[i] = b + 1
    return bytes(out)


def _packet(seq: int, payload: bytes) -> bytes:
    return struct.pack("<I", len(payload))[:3] + bytes([seq & 0xFF]) + payload


class Wire:
    """MySQL packets on the session's stream (inside TLS after the client's switch)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    async def read_packet(self) -> tuple[int, bytes]:
        head = await self.session.read_exactly(4)
        return head[3], await self.session.read_exactly(int.from_bytes(head[:3], "little"))

    async def send(self, data: bytes) -> None:
        await self.session.send(data)


def server_version(version: str) -> str:
    """MariaDB announces itself behind the `5.5.5-` prefix, as its servers do."""
    if "MariaDB" in version and not version.startswith("5.5.5-"):
        return "5.5.5-" + version
    return version


def greeting(version: str, conn_id: int, salt: bytes, plugin: str, caps: int,
             charset: int = 255) -> bytes:
    """The protocol v10 handshake packet's payload."""
    return (b"\x0a" + version.encode() + b"\0" + struct.pack("<I", conn_id) + salt[:8]
            + b"\0" + struct.pack("<H", caps & 0xFFFF) + bytes([charset])
            + struct.pack("<H", SERVER_STATUS_AUTOCOMMIT) + struct.pack("<H", caps >> 16)
            + bytes([len(salt) + 1]) + b"\0" * 10 + salt[8:] + b"\0" + plugin.encode() + b"\0")


def error(code: int, state: str, message: str) -> bytes:
    return b"\xff" + struct.pack("<H", code) + b"#" + state.encode() + message.encode()


def _cstring(data: bytes, pos: int) -> tuple[bytes, int]:
    end = data.find(b"\0", pos)
    if end < 0:
        return data[pos:], len(data)
    return data[pos:end], end + 1


def _lenenc(data: bytes, pos: int) -> tuple[int, int]:
    first = data[pos]
    if first < 0xFB:
        return first, pos + 1
    width = {0xFC: 2, 0xFD: 3, 0xFE: 8}.get(first, 0)
    return int.from_bytes(data[pos + 1:pos + 1 + width], "little"), pos + 1 + width


def parse_response(data: bytes) -> dict[str, Any]:
    """HandshakeResponse41: capabilities, user, auth data, database, plugin, attributes."""
    caps = struct.unpack_from("<I", data, 0)[0]
    user, pos = _cstring(data, 32)
    if caps & CLIENT_LENENC_DATA:
        size, pos = _lenenc(data, pos)
        auth, pos = data[pos:pos + size], pos + size
    elif caps & CLIENT_SECURE_CONNECTION:
        size = data[pos]
        auth, pos = data[pos + 1:pos + 1 + size], pos + 1 + size
    else:
        auth, pos = _cstring(data, pos)
    database = b""
    if caps & CLIENT_CONNECT_WITH_DB and pos < len(data):
        database, pos = _cstring(data, pos)
    plugin = b""
    if caps & CLIENT_PLUGIN_AUTH and pos < len(data):
        plugin, pos = _cstring(data, pos)
    attrs: list[str] = []
    if caps & CLIENT_CONNECT_ATTRS and pos < len(data):
        total, pos = _lenenc(data, pos)
        end = min(pos + total, len(data))
        while pos < end:
            klen, pos = _lenenc(data, pos)
            key, pos = data[pos:pos + klen], pos + klen
            vlen, pos = _lenenc(data, pos)
            value, pos = data[pos:pos + vlen], pos + vlen
            attrs.append(f"{key.decode('utf-8', 'replace')}={value.decode('utf-8', 'replace')}")
    return {"caps": caps, "user": user.decode("utf-8", "replace"), "auth": auth,
            "database": database.decode("utf-8", "replace"),
            "plugin": plugin.decode("ascii", "replace"), "attrs": attrs}


def _rsa() -> Any:
    """The server's RSA key for caching_sha2 full authentication without TLS (made once)."""
    global _rsa_key
    if _rsa_key is None:
        from cryptography.hazmat.primitives.asymmetric import rsa

        _rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return _rsa_key


def _rsa_password(blob: bytes, salt: bytes) -> bytes | None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    try:
        plain = _rsa().decrypt(blob, padding.OAEP(mgf=padding.MGF1(hashes.SHA1()),
                                                  algorithm=hashes.SHA1(), label=None))
    except ValueError:
        return None
    clear = bytes(b ^ salt[i % len(salt)] for i, b in enumerate(plain))
    return clear.split(b"\0", 1)[0]


def _public_pem() -> bytes:
    from cryptography.hazmat.primitives import serialization

    return _rsa().public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)


async def handle(session: Session) -> None:
    config = session.config
    version = server_version(str(config.get("version") or session.persona.version("mysql")
                                 or "8.0.36"))
    mariadb = "MariaDB" in version
    plugin = str(config.get("auth_plugin") or (NATIVE if mariadb else SHA2))
    if plugin not in (NATIVE, SHA2):
        plugin = SHA2
    use_tls = config.get("tls", True) not in (False, "false", "0", "no")
    caps = SERVER_CAPS if use_tls else SERVER_CAPS & ~CLIENT_SSL
    if mariadb:
        caps &= ~CLIENT_LONG_PASSWORD  # MariaDB servers clear it (the "CLIENT_MYSQL" bit)
    global _ids
    if _ids is None:  # a server that has been up a while, not one that just started
        _ids = itertools.count(1000 + session.persona.number("mysql-connection-id", 90000))
    wire = Wire(session)
    salt = _salt()
    charset = UTF8MB4_GENERAL_CI if mariadb else UTF8MB4_0900_AI_CI
    await wire.send(_packet(0, greeting(version, next(_ids), salt, plugin, caps, charset)))
    seq, data = await wire.read_packet()
    secure = False
    if len(data) == 32 and use_tls and struct.unpack_from("<I", data, 0)[0] & CLIENT_SSL:
        session.event("tls_request")
        if not await session.try_start_tls(tls.server_context(session.persona, config)):
            return
        secure = True
        seq, data = await wire.read_packet()
    if len(data) < 33:
        session.event("error", reason="short handshake response", data=data)
        await wire.send(_packet(seq + 1, error(1043, "08S01", "Bad handshake")))
        return
    try:
        response = parse_response(data)
    except (IndexError, struct.error):
        session.event("error", reason="bad handshake", data=data)
        await wire.send(_packet(seq + 1, error(1043, "08S01", "Bad handshake")))
        return
    fields: dict[str, Any] = {
        "username": response["user"], "database": response["database"] or None,
        "client_plugin": response["plugin"] or None, "tls": secure,
        "attrs": ",".join(response["attrs"]) or None}
    scramble: bytes = response["auth"]
    try:
        if response["plugin"] and response["plugin"] != plugin:
            salt = _salt()  # AuthSwitchRequest: a fresh salt for the plugin the server wants
            await wire.send(_packet(seq + 1, b"\xfe" + plugin.encode() + b"\0" + salt + b"\0"))
            seq, scramble = await wire.read_packet()
        fields.update(plugin=plugin, salt=salt.hex(), scramble=scramble.hex())
        if plugin == NATIVE and scramble:
            fields["hash"] = f"$mysqlna${salt.hex()}*{scramble.hex()}"
        if plugin == SHA2 and scramble:
            seq = await _full_auth(wire, seq, salt, secure, fields)
    except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
        return
    finally:
        session.event("login", success=False, **fields)
    used = "YES" if scramble else "NO"
    message = (f"Access denied for user '{response['user']}'@'{session.src_ip}' "
               f"(using password: {used})")
    await wire.send(_packet(seq + 1, error(1045, "28000", message)))


async def _full_auth(wire: Wire, seq: int, salt: bytes, secure: bool,
                     fields: dict[str, Any]) -> int:
    """caching_sha2 cache miss: ask for the password (clear over TLS, else RSA)."""
    await wire.send(_packet(seq + 1, b"\x01\x04"))  # perform_full_authentication
    seq, data = await wire.read_packet()
    if secure:
        fields["password"] = data.split(b"\0", 1)[0]
        return seq
    if data == b"\x02":  # request public key
        await wire.send(_packet(seq + 1, b"\x01" + _public_pem()))
        seq, data = await wire.read_packet()
        password = _rsa_password(data, salt)
        if password is not None:
            fields["password"] = password
    return seq
