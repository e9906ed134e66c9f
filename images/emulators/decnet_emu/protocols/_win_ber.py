"""Compact ASN.1 BER/DER for the Windows-family protocols (LDAP, SPNEGO, CredSSP).

Decoding is bounded: every length is checked against the buffer, nesting is limited by the
callers, malformed input raises ValueError.
"""

from __future__ import annotations

import asyncio

from decnet_emu.session import Session

SEQUENCE = 0x30
SET = 0x31
INTEGER = 0x02
OCTET_STRING = 0x04
ENUMERATED = 0x0A
BOOLEAN = 0x01
OID = 0x06


def length(size: int, long_form: bool = False) -> bytes:
    """A BER length; `long_form` forces the 4-byte form liblber and AD use for sequences."""
    if long_form:
        return b"\x84" + size.to_bytes(4, "big")
    if size < 0x80:
        return bytes([size])
    raw = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def tlv(tag: int, body: bytes, long_form: bool = False) -> bytes:
    """One element: tag, length, body."""
    return bytes([tag]) + length(len(body), long_form) + body


def integer(value: int, tag: int = INTEGER) -> bytes:
    """A (signed) INTEGER or ENUMERATED."""
    size = max(1, (value.bit_length() + 8) // 8)
    return tlv(tag, value.to_bytes(size, "big", signed=True))


def octets(value: bytes | str, tag: int = OCTET_STRING) -> bytes:
    return tlv(tag, value.encode() if isinstance(value, str) else value)


def oid(dotted: str) -> bytes:
    """An OBJECT IDENTIFIER from its dotted form."""
    parts = [int(p) for p in dotted.split(".")]
    body = bytearray([parts[0] * 40 + parts[1]])
    for part in parts[2:]:
        chunk = [part & 0x7F]
        part >>= 7
        while part:
            chunk.append(0x80 | (part & 0x7F))
            part >>= 7
        body += bytes(reversed(chunk))
    return tlv(OID, bytes(body))


def oid_text(body: bytes) -> str:
    """The dotted form of an OID body."""
    if not body:
        return ""
    parts = [body[0] // 40, body[0] % 40]
    value = 0
    for byte in body[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(value)
            value = 0
    return ".".join(map(str, parts))


def read(data: bytes, pos: int = 0) -> tuple[int, bytes, int]:
    """(tag, body, position after) of the element at `pos`; ValueError when malformed."""
    if pos + 2 > len(data):
        raise ValueError("truncated element")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise ValueError("multi-byte tags are not used here")
    first = data[pos + 1]
    pos += 2
    if first & 0x80:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + count > len(data):
            raise ValueError("bad length")
        size = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    else:
        size = first
    if pos + size > len(data):
        raise ValueError("element past the end")
    return tag, data[pos:pos + size], pos + size


def items(body: bytes, limit: int = 4096) -> list[tuple[int, bytes]]:
    """The (tag, body) elements of a constructed body (at most `limit`)."""
    out: list[tuple[int, bytes]] = []
    pos = 0
    while pos < len(body):
        if len(out) >= limit:
            raise ValueError("too many elements")
        tag, value, pos = read(body, pos)
        out.append((tag, value))
    return out


def to_int(body: bytes) -> int:
    if not body or len(body) > 8:
        raise ValueError("bad integer")
    return int.from_bytes(body, "big", signed=True)


async def read_element(session: Session, max_size: int, expect: int | None = None) -> bytes:
    """One whole BER element from the stream (b"" at a clean end); ValueError when it is
    not BER, does not start with the tag `expect` or is larger than `max_size`."""
    try:
        head = await session.read_exactly(2)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise ValueError("truncated element") from exc
        return b""
    if expect is not None and head[0] != expect:
        raise ValueError(f"not BER: {head!r}")
    extra = b""
    if head[1] & 0x80:
        count = head[1] & 0x7F
        if count == 0 or count > 4:
            raise ValueError("bad length")
        extra = await session.read_exactly(count)
        size = int.from_bytes(extra, "big")
    else:
        size = head[1]
    if size > max_size:
        raise ValueError(f"element of {size} bytes")
    return head + extra + await session.read_exactly(size)
