"""The bus wire format (DESIGN.md, "Bus wire format"): encode and decode frames.

A frame is an ASCII header line `VERB[ ARG]\\n` of at most 4096 bytes (newline included), a
4-byte big-endian body length, then that many bytes of JSON: always an object, length 0 meaning
`{}`, at most 1 MiB. Every malformed input raises ProtocolError with a reason.
"""

from __future__ import annotations

import struct
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
_HEADER_CACHE_SIZE = 4096
_header_cache: dict[bytes, tuple[str, str | None]] = {}
_LENGTH = struct.Struct(">I")
_unpack_length = _LENGTH.unpack_from
pack_length = _LENGTH.pack
_new_frame = tuple.__new__


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
    if type(body) is not dict:
        if body is None:
            return b""
        if not isinstance(body, Mapping):
            raise ProtocolError(f"body must be a JSON object, not {type(body).__name__}")
        body = dict(body)
    if not body:
        return b""
    try:
        data = orjson.dumps(body)
    except TypeError as exc:
        raise ProtocolError(f"body is not JSON-serialisable: {exc}") from exc
    if len(data) > MAX_BODY:
        raise ProtocolError(f"body of {len(data)} bytes is over the {MAX_BODY}-byte limit")
    return data


def encode_raw(header: bytes, raw: bytes) -> bytes:
    """A frame from an encoded header line and already-encoded JSON object bytes."""
    if len(raw) > MAX_BODY:
        raise ProtocolError(f"body of {len(raw)} bytes is over the {MAX_BODY}-byte limit")
    return header + pack_length(len(raw)) + raw


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
    without waiting. Partial frames are kept as a list of chunks and joined only once enough
    bytes are there (no quadratic copying of big bodies). After a ProtocolError the decoder is
    unusable (close the connection).
    """

    __slots__ = ("_chunks", "_header", "_need", "_size", "error")

    def __init__(self) -> None:
        self.error: ProtocolError | None = None
        self._chunks: list[bytes] = []
        self._size = 0
        self._need = 0
        self._header: tuple[int, str, str | None] | None = None  # (newline index, verb, arg)

    def pending(self) -> int:
        """Bytes received but not yet part of a complete frame."""
        return self._size

    def feed(self, data: bytes) -> list[Frame]:
        """Append `data`; return every frame it completes, in order.

        Raises ProtocolError at the first malformed frame; when good frames came before it in
        the same data, those are returned first and the error is left in `self.error` (the
        caller handles the frames, then closes).
        """
        if self.error is not None:
            raise self.error
        frames: list[Frame] = []
        try:
            self._parse(data, frames)
        except ProtocolError as exc:
            if not frames:
                raise
            self.error = exc
        return frames

    def _parse(self, data: bytes, frames: list[Frame]) -> None:
        if self._chunks:
            self._chunks.append(data)
            self._size += len(data)
            if self._size < self._need:
                return
            buf = b"".join(self._chunks)
        else:
            buf = bytes(data)
        size = len(buf)
        append = frames.append
        pos = 0
        header = self._header
        need = 0
        while True:
            if header is None:
                newline = buf.find(b"\n", pos, pos + MAX_HEADER)
                if newline < 0:
                    if size - pos >= MAX_HEADER:
                        raise ProtocolError(
                            f"header line longer than {MAX_HEADER} bytes (no newline)"
                        )
                    need = size - pos + 1
                    break
                verb, arg = parse_header(buf[pos:newline])
                header = (newline - pos, verb, arg)
            offset, verb, arg = header
            start = pos + offset + 1 + LENGTH_BYTES
            if size < start:
                need = start - pos
                break
            (length,) = _unpack_length(buf, start - LENGTH_BYTES)
            if length > MAX_BODY:
                raise ProtocolError(f"body of {length} bytes is over the {MAX_BODY}-byte limit")
            end = start + length
            if size < end:
                need = end - pos
                break
            raw = buf[start:end]
            append(_new_frame(Frame, (verb, arg, decode_body(raw), raw)))
            header = None
            pos = end
        self._header = header
        if pos < size:
            self._chunks = [buf[pos:] if pos else buf]
            self._size = size - pos
            self._need = need
        else:
            self._chunks = []
            self._size = 0

    def close(self) -> None:
        """The stream ended: raise ProtocolError when it stopped inside a frame."""
        if self.error is not None:
            raise self.error
        if not self._size:
            return
        if self._header is None:
            raise ProtocolError("stream ended inside a header line (no newline)")
        raise ProtocolError("stream ended inside a frame (truncated body)")
