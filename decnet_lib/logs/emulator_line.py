"""The structured line every emulator prints on stdout, one per event (see images/README.md).

    DECNET1 ts=<epoch> svc=<service> event=<event> src=<ip> sport=<port> [key=value ...]

Space-separated `key=value` pairs after the `DECNET1` tag. Keys match `[a-z][a-z0-9_]*`
(at most 32 characters, each at most once). Every value is percent-encoded: any byte outside
`A-Za-z0-9 . _ ~ : / @ -` is written `%XX`, so attacker bytes can add neither a field, a
space nor a line. The emulators also write `proto`, `dport` and `decky`; the rest depend on
the event (`user`, `password`, `cmd`, `data`...). `parse_line` never raises: a line that is
not exactly this (garbage, a forged or damaged line) gives None.
"""

from __future__ import annotations

import ipaddress
import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

TAG = "DECNET1"
MAX_LINE = 8192
"""Characters of a line that are read; the rest is dropped and the event marked truncated."""
MAX_VALUE_BYTES = 256
"""Raw bytes of one value that an encoder keeps (the emulators cut at the same length)."""
MAX_FIELD_CHARS = 1024
"""Characters of one decoded field value that the parser keeps."""

_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/@")
_KEY = re.compile(r"[a-z][a-z0-9_]{0,31}")
_VALUE = re.compile(r"(?:[A-Za-z0-9._~:/@-]|%[0-9A-Fa-f]{2})*")
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
_CORE = ("ts", "svc", "event", "src", "sport")


@dataclass(frozen=True, slots=True)
class EmulatorEvent:
    """One event an emulator logged: when, which service, what, and from where."""

    ts: float
    service: str
    event: str
    src_ip: str
    src_port: int
    fields: dict[str, str] = field(default_factory=dict)
    truncated: bool = False

    @property
    def dst_port(self) -> int | None:
        """The decky port that was hit, when the line says so."""
        value = self.fields.get("dport", "")
        return int(value) if value.isdigit() else None

    @property
    def protocol(self) -> str | None:
        return self.fields.get("proto") or None


def encode_value(value: str | bytes, limit: int = MAX_VALUE_BYTES) -> str:
    """Percent-encode a value (UTF-8 for text) after cutting it to `limit` bytes."""
    raw = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else bytes(value)
    return "".join(chr(b) if b in _SAFE else f"%{b:02X}" for b in raw[:limit])


def decode_value(value: str) -> str:
    """Percent-decode a value; bytes that are not UTF-8 come back as `\\xNN` escapes."""
    raw = _PERCENT.sub(lambda m: chr(int(m.group(1), 16)), value).encode("latin-1")
    return raw.decode("utf-8", "backslashreplace")


def format_line(
    service: str,
    event: str,
    src_ip: str,
    src_port: int,
    fields: Mapping[str, str | bytes | int] | None = None,
    ts: float | None = None,
) -> str:
    """One line exactly as the emulators write it (without the newline)."""
    stamp = f"{time.time() if ts is None else ts:.6f}"
    parts = [TAG, f"ts={stamp}", f"svc={encode_value(service)}", f"event={encode_value(event)}",
             f"src={encode_value(src_ip)}", f"sport={int(src_port)}"]
    for key, value in (fields or {}).items():
        if not _KEY.fullmatch(key) or key in _CORE:
            raise ValueError(f"invalid field name {key!r}")
        text = value if isinstance(value, str | bytes) else str(value)
        parts.append(f"{key}={encode_value(text)}")
    return " ".join(parts)


def parse_line(line: str | bytes) -> EmulatorEvent | None:
    """The event in one emulator line, or None for anything else. Never raises."""
    try:
        return _parse(line)
    except Exception:  # garbage in, None out: a log follower must not die
        return None


def _parse(line: str | bytes) -> EmulatorEvent | None:
    if isinstance(line, bytes | bytearray):
        try:
            line = bytes(line[: MAX_LINE + 2]).decode("ascii")
        except UnicodeDecodeError:
            return None
    if not isinstance(line, str):
        return None
    line = line.rstrip("\r\n")
    truncated = len(line) > MAX_LINE
    if truncated:
        line = line[:MAX_LINE].rsplit(" ", 1)[0]  # drop the pair that was cut
    if not line.startswith(TAG + " ") or not line.isascii() or not line.isprintable():
        return None
    pairs: dict[str, str] = {}
    for token in line[len(TAG) + 1:].split(" "):
        key, sep, value = token.partition("=")
        if not sep or not _KEY.fullmatch(key) or key in pairs or not _VALUE.fullmatch(value):
            return None
        pairs[key] = value
    if any(key not in pairs for key in _CORE):
        return None
    ts = float(pairs.pop("ts"))
    service = decode_value(pairs.pop("svc"))
    event = decode_value(pairs.pop("event"))
    src_ip = str(ipaddress.ip_address(decode_value(pairs.pop("src"))))
    sport = pairs.pop("sport")
    if not math.isfinite(ts) or ts < 0 or not service or not event or not sport.isdigit():
        return None
    src_port = int(sport)
    if src_port > 65535:
        return None
    fields = {key: decode_value(value)[:MAX_FIELD_CHARS] for key, value in pairs.items()}
    return EmulatorEvent(ts, service, event, src_ip, src_port, fields, truncated)
