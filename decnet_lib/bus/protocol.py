"""The bus wire format (DESIGN.md, "Bus wire format"): encode and decode frames.

A frame is an ASCII header line `VERB[ ARG]\\n` of at most 4096 bytes (newline included), a
4-byte big-endian body length, then that many bytes of JSON: always an object, length 0 meaning
`{}`, at most 1 MiB. Every malformed input raises ProtocolError with a reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import orjson

from decnet_lib.bus.errors import ProtocolError

MAX_HEADER = 4096
MAX_BODY = 1 << 20
LENGTH_BYTES = 4

HELLO, SUB, UNSUB, PUB, EVT, PING, PONG, BYE = (
    "HELLO", "SUB", "UNSUB", "PUB", "EVT", "PING", "PONG", "BYE",
)
# verb -> does it take exactly one argument?
VERBS: dict[str, bool] = {
    HELLO: True, SUB: True, UNSUB: True, PUB: True, EVT: True,
    PING: False, PONG: False, BYE: False,
}
EVENT_VERSION = 1
_EMPTY_LENGTH = b"\x00\x00\x00\x00"
_HEADER_CACHE_SIZE = 4096
_header_cache: dict[bytes, tuple[str, str | None]] = {}


class Frame(NamedTuple):
    """One decoded frame: verb, argument (or None), body object, and the raw body bytes."""

    verb: str
    arg: str | None
    body: dict[str, Any]
    raw: bytes


def _check_arg(verb: str, arg: str | None) -> None:
    takes_arg = VERBS.get(verb)
    if takes_arg is None:
        raise ProtocolError(f"unknown verb {verb[:32]!r}")
    if not takes_arg:
        if arg is not None:
            raise ProtocolError(f"{verb} takes no argument")
        return
    if not arg:
        raise ProtocolError(f"{verb} needs an argument")
    if "\n" in arg:
        raise ProtocolError(f"{verb} argument contains a newline")
    if " " in arg:
        raise ProtocolError(f"{verb} argument contains a space")
    if not arg.isascii():
        raise ProtocolError(f"{verb} argument is not ASCII")
    if not arg.isprintable():
        raise ProtocolError(f"{verb} argument contains a control character")


def encode_header(verb: str, arg: str | None = None) -> bytes:
    """The header line of a frame, newline included; raises ProtocolError when malformed."""
    _check_arg(verb, arg)
    line = (f"{verb} {arg}\n" if arg is not None else f"{verb}\n").encode("ascii")
    if len(line) > MAX_HEADER:
        raise ProtocolError(f"header line longer than {MAX_HEADER} bytes")
    return line


def encode_body(body: Mapping[str, Any] | None) -> bytes:
    """The JSON bytes of a body (b'' for an empty or missing one); must be a JSON object."""
    if not body:
        if body is None or isinstance(body, Mapping):
            return b""
        raise ProtocolError("body must be a JSON object")
    if not isinstance(body, Mapping):
        raise ProtocolError("body must be a JSON object")
    try:
        data = orjson.dumps(body if isinstance(body, dict) else dict(body))
    except TypeError as exc:
        raise ProtocolError(f"body is not JSON-serialisable: {exc}") from exc
    if len(data) > MAX_BODY:
        raise ProtocolError(f"body of {len(data)} bytes is over the {MAX_BODY}-byte limit")
    return data


def encode_raw(header: bytes, raw: bytes) -> bytes:
    """A frame from an encoded header line and already-encoded JSON object bytes."""
    if len(raw) > MAX_BODY:
        raise ProtocolError(f"body of {len(raw)} bytes is over the {MAX_BODY}-byte limit")
    return header + len(raw).to_bytes(LENGTH_BYTES, "big") + raw if raw else header + _EMPTY_LENGTH


def encode_frame(verb: str, arg: str | None = None, body: Mapping[str, Any] | None = None) -> bytes:
    """One complete frame."""
    return encode_raw(encode_header(verb, arg), encode_body(body))


def parse_header(line: bytes) -> tuple[str, str | None]:
    """Verb and argument of a header line given without its newline."""
    cached = _header_cache.get(line)
    if cached is not None:
        return cached
    if len(line) >= MAX_HEADER:
        raise ProtocolError(f"header line longer than {MAX_HEADER} bytes")
    if not line.isascii():
        raise ProtocolError("header line is not ASCII")
    text = line.decode("ascii")
    verb, sep, arg = text.partition(" ")
    if verb not in VERBS:
        raise ProtocolError(f"unknown verb {verb[:32]!r}")
    if not sep:
        result: tuple[str, str | None] = (verb, None)
    elif not VERBS[verb]:
        raise ProtocolError(f"{verb} takes no argument")
    else:
        result = (verb, arg)
    _check_arg(*result)
    if len(_header_cache) >= _HEADER_CACHE_SIZE:
        _header_cache.clear()
    _header_cache[line] = result
    return result


def decode_body(raw: bytes) -> dict[str, Any]:
    """The body object of raw JSON bytes (b'' is {})."""
    if not raw:
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(f"body is not valid JSON: {exc}") from exc
    if type(body) is not dict:
        raise ProtocolError(f"body must be a JSON object, not {type(body).__name__}")
    return body


def decode_frame(data: bytes) -> Frame:
    """Exactly one complete frame from `data` (nothing more, nothing less)."""
    decoder = FrameDecoder()
    frames = decoder.feed(data)
    decoder.close()
    if len(frames) != 1:
        raise ProtocolError(f"expected one frame, got {len(frames)}")
    return frames[0]


class FrameDecoder:
    """Incremental decoder: feed it bytes as they arrive, get the complete frames back.

    A header is checked as soon as its newline arrives (before its body), so garbage is refused
    without waiting. After a ProtocolError the decoder is unusable (close the connection).
    """

    __slots__ = ("_buf", "_header")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._header: tuple[int, str, str | None] | None = None  # (newline index, verb, arg)

    def pending(self) -> int:
        """Bytes received but not yet part of a complete frame."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Frame]:
        """Append `data`; return every frame it completes, in order."""
        buf = self._buf
        buf += data
        size = len(buf)
        frames: list[Frame] = []
        pos = 0
        try:
            while True:
                header = self._header
                if header is None:
                    newline = buf.find(b"\n", pos, pos + MAX_HEADER)
                    if newline < 0:
                        if size - pos >= MAX_HEADER:
                            raise ProtocolError(
                                f"header line longer than {MAX_HEADER} bytes (no newline)"
                            )
                        break
                    verb, arg = parse_header(bytes(buf[pos:newline]))
                    header = self._header = (newline, verb, arg)
                newline, verb, arg = header
                start = newline + 1 + LENGTH_BYTES
                if size < start:
                    break
                length = int.from_bytes(buf[newline + 1:start], "big")
                if length > MAX_BODY:
                    raise ProtocolError(f"body of {length} bytes is over the {MAX_BODY}-byte limit")
                end = start + length
                if size < end:
                    break
                raw = bytes(buf[start:end])
                frames.append(Frame(verb, arg, decode_body(raw), raw))
                self._header = None
                pos = end
        finally:
            if pos:
                del buf[:pos]
                if self._header is not None:
                    newline, verb, arg = self._header
                    self._header = (newline - pos, verb, arg)
        return frames

    def close(self) -> None:
        """The stream ended: raise ProtocolError when it stopped inside a frame."""
        if not self._buf:
            return
        if self._header is None:
            raise ProtocolError("stream ended inside a header line (no newline)")
        raise ProtocolError("stream ended inside a frame (truncated body)")
