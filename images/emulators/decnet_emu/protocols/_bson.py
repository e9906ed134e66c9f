"""A minimal BSON codec (the types MongoDB's handshake, auth and commands use).

Decoding gives dicts (key order kept), lists, str, bytes (binary), int, float, bool, None,
datetime, ObjectId, Int64 and Timestamp; other types are kept as `Raw`. Encoding takes the
same; a Python int is an int32 when it fits, otherwise an int64 (`Int64` forces int64).
"""

from __future__ import annotations

import datetime as dt
import struct
from dataclasses import dataclass
from typing import Any

UTC = dt.UTC
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)


class BSONError(ValueError):
    """Bytes that are not a well-formed BSON document."""


@dataclass(frozen=True)
class ObjectId:
    raw: bytes  # 12 bytes


class Int64(int):
    """An int encoded as BSON int64 whatever its size."""


@dataclass(frozen=True)
class Timestamp:
    time: int
    inc: int


@dataclass(frozen=True)
class Raw:
    """A value of a type this codec does not interpret."""

    type: int
    data: bytes


_FIXED = {0x01: 8, 0x07: 12, 0x08: 1, 0x09: 8, 0x0A: 0, 0x10: 4, 0x11: 8, 0x12: 8,
          0x13: 16, 0x7F: 0, 0xFF: 0}


def _cstring(data: bytes, pos: int) -> tuple[str, int]:
    end = data.find(b"\0", pos)
    if end < 0:
        raise BSONError("unterminated cstring")
    return data[pos:end].decode("utf-8", "replace"), end + 1


def _value(kind: int, data: bytes, pos: int) -> tuple[Any, int]:
    if kind in (0x02, 0x0D, 0x0E):  # string, javascript, symbol
        (size,) = struct.unpack_from("<i", data, pos)
        if size < 1 or pos + 4 + size > len(data):
            raise BSONError("bad string length")
        return data[pos + 4: pos + 3 + size].decode("utf-8", "replace"), pos + 4 + size
    if kind in (0x03, 0x04):
        (size,) = struct.unpack_from("<i", data, pos)
        doc = decode(data[pos: pos + size])
        return (list(doc.values()) if kind == 0x04 else doc), pos + size
    if kind == 0x05:
        (size,) = struct.unpack_from("<i", data, pos)
        if size < 0 or pos + 5 + size > len(data):
            raise BSONError("bad binary length")
        return data[pos + 5: pos + 5 + size], pos + 5 + size
    if kind not in _FIXED:
        raise BSONError(f"unsupported BSON type 0x{kind:02x}")
    size = _FIXED[kind]
    chunk = data[pos: pos + size]
    if len(chunk) != size:
        raise BSONError("truncated value")
    end = pos + size
    if kind == 0x01:
        return struct.unpack("<d", chunk)[0], end
    if kind == 0x07:
        return ObjectId(chunk), end
    if kind == 0x08:
        return chunk != b"\0", end
    if kind == 0x09:
        return EPOCH + dt.timedelta(milliseconds=struct.unpack("<q", chunk)[0]), end
    if kind == 0x0A:
        return None, end
    if kind == 0x10:
        return struct.unpack("<i", chunk)[0], end
    if kind == 0x11:
        inc, time = struct.unpack("<II", chunk)
        return Timestamp(time, inc), end
    if kind == 0x12:
        return Int64(struct.unpack("<q", chunk)[0]), end
    return Raw(kind, chunk), end


def decode(data: bytes) -> dict[str, Any]:
    """One document (exactly its bytes)."""
    if len(data) < 5:
        raise BSONError("document too short")
    (size,) = struct.unpack_from("<i", data, 0)
    if size != len(data) or data[-1] != 0:
        raise BSONError("bad document length")
    out: dict[str, Any] = {}
    pos = 4
    try:
        while pos < size - 1:
            kind = data[pos]
            key, pos = _cstring(data, pos + 1)
            out[key], pos = _value(kind, data, pos)
    except struct.error as exc:
        raise BSONError(str(exc)) from None
    if pos != size - 1:
        raise BSONError("trailing bytes in document")
    return out


def document_at(data: bytes, pos: int) -> tuple[dict[str, Any], int]:
    """The document starting at `pos` and the position after it."""
    if pos + 4 > len(data):
        raise BSONError("truncated document")
    (size,) = struct.unpack_from("<i", data, pos)
    if size < 5 or pos + size > len(data):
        raise BSONError("bad document length")
    return decode(data[pos: pos + size]), pos + size


def _element(key: str, value: Any) -> bytes:
    name = key.encode() + b"\0"
    if isinstance(value, bool):
        return b"\x08" + name + (b"\x01" if value else b"\x00")
    if isinstance(value, Int64):
        return b"\x12" + name + struct.pack("<q", value)
    if isinstance(value, int):
        if -(1 << 31) <= value < (1 << 31):
            return b"\x10" + name + struct.pack("<i", value)
        return b"\x12" + name + struct.pack("<q", value)
    if isinstance(value, float):
        return b"\x01" + name + struct.pack("<d", value)
    if isinstance(value, str):
        text = value.encode()
        return b"\x02" + name + struct.pack("<i", len(text) + 1) + text + b"\0"
    if isinstance(value, bytes):
        return b"\x05" + name + struct.pack("<i", len(value)) + b"\x00" + value
    if isinstance(value, dict):
        return b"\x03" + name + encode(value)
    if isinstance(value, list | tuple):
        return b"\x04" + name + encode({str(i): item for i, item in enumerate(value)})
    if isinstance(value, ObjectId):
        return b"\x07" + name + value.raw
    if isinstance(value, dt.datetime):
        millis = int((value - EPOCH).total_seconds() * 1000)
        return b"\x09" + name + struct.pack("<q", millis)
    if isinstance(value, Timestamp):
        return b"\x11" + name + struct.pack("<II", value.inc, value.time)
    if isinstance(value, Raw):
        return bytes([value.type]) + name + value.data
    if value is None:
        return b"\x0a" + name
    raise TypeError(f"cannot encode {type(value).__name__} as BSON")


def encode(doc: dict[str, Any]) -> bytes:
    body = b"".join(_element(key, value) for key, value in doc.items())
    return struct.pack("<i", len(body) + 5) + body + b"\0"
