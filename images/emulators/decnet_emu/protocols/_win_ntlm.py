"""NTLMSSP server side (CHALLENGE out, AUTHENTICATE in) and SPNEGO wrapping, shared by smb,
rdp (CredSSP) and ldap (SASL GSS-SPNEGO, Sicily).

The captured response becomes a hashcat-style string: NetNTLMv2
`user::domain:challenge:ntproofstr:blob` (mode 5600) or NetNTLMv1
`user::domain:lm:nt:challenge` (mode 5500).
"""

from __future__ import annotations

import re
import struct
import time
from dataclasses import dataclass
from typing import Any

from decnet_emu.persona import Persona
from decnet_emu.protocols import _win_ber as ber

SIGNATURE = b"NTLMSSP\x00"
NEGOTIATE, CHALLENGE, AUTHENTICATE = 1, 2, 3

OID_NTLMSSP = "1.3.6.1.4.1.311.2.2.10"
OID_NEGOEX = "1.3.6.1.4.1.311.2.2.30"
OID_SPNEGO = "1.3.6.1.5.5.2"

F_UNICODE = 0x00000001
F_OEM = 0x00000002
F_REQUEST_TARGET = 0x00000004
F_NTLM = 0x00000200
F_TARGET_DOMAIN = 0x00010000
F_TARGET_SERVER = 0x00020000
F_TARGET_INFO = 0x00800000
F_VERSION = 0x02000000
# what a Windows or Samba server echoes back of the client's wishes
_ECHOED = (0x00000001 | 0x00000004 | 0x00000010 | 0x00000020 | 0x00008000 | 0x00080000
           | 0x02000000 | 0x20000000 | 0x40000000 | 0x80000000)

# Windows builds by the product named in the persona's os_name
_WINDOWS_BUILDS = (
    ("2025", (10, 0, 26100)), ("2022", (10, 0, 20348)), ("2019", (10, 0, 17763)),
    ("2016", (10, 0, 14393)), ("2012 r2", (6, 3, 9600)), ("2012", (6, 2, 9200)),
    ("2008 r2", (6, 1, 7601)), ("windows 11", (10, 0, 22631)), ("windows 10", (10, 0, 19045)),
)


@dataclass(frozen=True)
class Names:
    """How the server names itself in NTLM target info (and elsewhere in its protocols)."""

    nb_computer: str
    nb_domain: str
    dns_computer: str
    dns_domain: str
    domain_joined: bool
    version: tuple[int, int, int]

    @property
    def target(self) -> str:
        return self.nb_domain if self.domain_joined else self.nb_computer


def windows_version(persona: Persona) -> tuple[int, int, int]:
    """(major, minor, build) of the persona's Windows (Server 2019 when it does not say)."""
    name = persona.os_name.lower()
    for key, version in _WINDOWS_BUILDS:
        if key in name:
            return version
    return 10, 0, 17763


def names(persona: Persona, config: dict[str, Any]) -> Names:
    """Target names of a persona: Samba standalone (linux) or a Windows domain member."""
    host = re.sub(r"[^A-Za-z0-9-]", "", persona.hostname)[:15].upper() or "HOST"
    workgroup = str(config.get("workgroup") or "WORKGROUP").upper()[:15]
    if persona.is_windows:
        joined = bool(persona.domain)
        if joined and workgroup == "WORKGROUP":
            workgroup = re.sub(r"[^A-Za-z0-9-]", "", persona.domain.split(".")[0])[:15].upper()
        return Names(host, workgroup or "WORKGROUP", persona.fqdn.lower(),
                     persona.domain.lower(), joined, windows_version(persona))
    # Samba 4 standalone: the server is its own NTLM domain; it says Windows 6.1 build 0
    return Names(host, host, persona.fqdn.lower(), persona.domain.lower(), False, (6, 1, 0))


def filetime(now: float | None = None) -> int:
    return int(((time.time() if now is None else now) + 11644473600) * 10_000_000)


def target_info(n: Names) -> bytes:
    """The AV pairs of a CHALLENGE message."""
    def pair(kind: int, value: bytes) -> bytes:
        return struct.pack("<HH", kind, len(value)) + value

    out = pair(2, n.nb_domain.encode("utf-16-le")) + pair(1, n.nb_computer.encode("utf-16-le"))
    out += pair(4, n.dns_domain.encode("utf-16-le")) + pair(3, n.dns_computer.encode("utf-16-le"))
    if n.domain_joined:
        out += pair(5, n.dns_domain.encode("utf-16-le"))
    out += pair(7, struct.pack("<Q", filetime()))
    return out + pair(0, b"")


def version_bytes(n: Names) -> bytes:
    major, minor, build = n.version
    return struct.pack("<BBH3sB", major, minor, build, b"\0\0\0", 15)


def negotiate_flags(message: bytes) -> int:
    """The flags of a NEGOTIATE message (a Windows client's default when unreadable)."""
    if len(message) >= 16 and message.startswith(SIGNATURE):
        return int(struct.unpack_from("<I", message, 12)[0])
    return 0xE2088297


def challenge_message(server_challenge: bytes, n: Names, client_flags: int) -> bytes:
    """A CHALLENGE (type 2) message answering a NEGOTIATE with these flags."""
    flags = (client_flags & _ECHOED) | F_NTLM | F_TARGET_INFO | F_REQUEST_TARGET
    flags |= F_TARGET_DOMAIN if n.domain_joined else F_TARGET_SERVER
    if not flags & F_UNICODE:
        flags |= F_OEM
    target = n.target.encode("utf-16-le" if flags & F_UNICODE else "latin-1")
    info = target_info(n)
    offset = 56
    head = SIGNATURE + struct.pack("<I", CHALLENGE)
    head += struct.pack("<HHI", len(target), len(target), offset)
    head += struct.pack("<I", flags) + server_challenge[:8] + b"\0" * 8
    head += struct.pack("<HHI", len(info), len(info), offset + len(target))
    head += version_bytes(n)
    return head + target + info


@dataclass(frozen=True)
class Authenticate:
    """What an AUTHENTICATE (type 3) message carries."""

    username: str
    domain: str
    workstation: str
    lm: bytes
    nt: bytes
    flags: int

    @property
    def anonymous(self) -> bool:
        return not self.username and len(self.nt) == 0

    def hashcat(self, server_challenge: bytes) -> str:
        """NetNTLMv2 / NetNTLMv1 in hashcat's format ("" for an anonymous logon)."""
        if len(self.nt) > 24:
            return (f"{self.username}::{self.domain}:{server_challenge.hex()}:"
                    f"{self.nt[:16].hex()}:{self.nt[16:].hex()}")
        if len(self.nt) == 24:
            return (f"{self.username}::{self.domain}:{self.lm.hex()}:{self.nt.hex()}:"
                    f"{server_challenge.hex()}")
        return ""

    def fields(self, server_challenge: bytes) -> dict[str, Any]:
        """The fields of a `login` event."""
        kind = "netntlmv2" if len(self.nt) > 24 else "netntlmv1" if self.nt else "anonymous"
        return {"username": self.username, "domain": self.domain,
                "workstation": self.workstation, "challenge": server_challenge.hex(),
                **split_value("hash", self.hashcat(server_challenge)), "mech": "NTLMSSP",
                "ntlm": kind, "success": False}


def split_value(name: str, value: str, size: int = 256, parts: int = 12) -> dict[str, str]:
    """A long value as `name`, `name_2`, `name_3` ... of `size` characters each (the event
    writer cuts every value at 256 bytes; join them in order to get the whole value)."""
    chunks = [value[i:i + size] for i in range(0, len(value), size)][:parts] or [""]
    return {(name if i == 0 else f"{name}_{i + 1}"): chunk for i, chunk in enumerate(chunks)}


def _field(message: bytes, at: int) -> bytes:
    size, _, offset = struct.unpack_from("<HHI", message, at)
    if offset + size > len(message):
        raise ValueError("NTLM field past the end")
    return message[offset:offset + size]


def parse_authenticate(message: bytes) -> Authenticate:
    """Read an AUTHENTICATE message; ValueError when it is not one."""
    if len(message) < 64 or not message.startswith(SIGNATURE) or \
            struct.unpack_from("<I", message, 8)[0] != AUTHENTICATE:
        raise ValueError("not an NTLM AUTHENTICATE message")
    flags = struct.unpack_from("<I", message, 60)[0]

    def text(raw: bytes) -> str:
        return raw.decode("utf-16-le" if flags & F_UNICODE else "latin-1", "replace")

    return Authenticate(username=text(_field(message, 36)), domain=text(_field(message, 28)),
                        workstation=text(_field(message, 44)), lm=_field(message, 12),
                        nt=_field(message, 20), flags=flags)


def find(blob: bytes) -> bytes | None:
    """The NTLMSSP message inside a security blob (raw or wrapped in SPNEGO/GSS-API)."""
    at = blob.find(SIGNATURE)
    return blob[at:] if at >= 0 else None


def message_type(message: bytes) -> int:
    return int(struct.unpack_from("<I", message, 8)[0]) if len(message) >= 12 else 0


# -- SPNEGO (RFC 4178) --------------------------------------------------------------------
def neg_token_init(mechs: list[str], hint: bool = True) -> bytes:
    """The server's initial NegTokenInit2 (SMB NEGOTIATE response security buffer)."""
    body = ber.tlv(0xA0, ber.tlv(ber.SEQUENCE, b"".join(ber.oid(m) for m in mechs)))
    if hint:
        body += ber.tlv(0xA3, ber.tlv(ber.SEQUENCE, ber.tlv(0xA0, ber.octets(
            "not_defined_in_RFC4178@please_ignore", 0x1B))))
    return ber.tlv(0x60, ber.oid(OID_SPNEGO) + ber.tlv(0xA0, ber.tlv(ber.SEQUENCE, body)))


def neg_token_resp(state: int, token: bytes | None = None, mech: bool = True) -> bytes:
    """A NegTokenResp: state 0 accept-completed, 1 accept-incomplete, 2 reject."""
    body = ber.tlv(0xA0, ber.integer(state, ber.ENUMERATED))
    if mech:
        body += ber.tlv(0xA1, ber.oid(OID_NTLMSSP))
    if token is not None:
        body += ber.tlv(0xA2, ber.octets(token))
    return ber.tlv(0xA1, ber.tlv(ber.SEQUENCE, body))


def is_spnego(blob: bytes) -> bool:
    return blob[:1] in (b"\x60", b"\xa1")


class Exchange:
    """One NTLM exchange of a connection: answers NEGOTIATE, reads AUTHENTICATE."""

    def __init__(self, persona: Persona, config: dict[str, Any], label: str) -> None:
        self.names = names(persona, config)
        self.challenge = persona.derive(f"ntlm-challenge/{label}/{time.time_ns()}", 8)
        self.spnego = False

    def answer(self, blob: bytes) -> tuple[bytes | None, Authenticate | None]:
        """(CHALLENGE to send back wrapped like the input, or None; AUTHENTICATE read).
        ValueError when the blob carries no usable NTLM message."""
        message = find(blob)
        if message is None:
            raise ValueError("no NTLMSSP message")
        self.spnego = is_spnego(blob)
        kind = message_type(message)
        if kind == NEGOTIATE:
            out = challenge_message(self.challenge, self.names, negotiate_flags(message))
            return (neg_token_resp(1, out) if self.spnego else out), None
        if kind == AUTHENTICATE:
            return None, parse_authenticate(message)
        raise ValueError(f"unexpected NTLM message type {kind}")
