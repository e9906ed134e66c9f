"""Bus wire format: round trips and a ProtocolError with a reason for every malformed frame."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from decnet_lib.bus.errors import ProtocolError
from decnet_lib.bus.events import (
    Event,
    decode_envelope,
    envelope_overhead,
    envelope_prefix,
    envelope_stamp,
)
from decnet_lib.bus.protocol import (
    MAX_BODY,
    MAX_HEADER,
    VERBS,
    FrameDecoder,
    decode_frame,
    encode_frame,
    encode_header,
)


def frame(header: bytes, body: bytes = b"") -> bytes:
    return header + len(body).to_bytes(4, "big") + body


ROUND_TRIPS = [
    ("HELLO", "reconciler-42", None),
    ("SUB", "topology.*.status", None),
    ("SUB", ">", None),
    ("UNSUB", "topology.>", None),
    ("PUB", "topology.acme.status", {"status": "active", "n": 3, "nested": {"a": [1, 2]}}),
    ("EVT", "a.b", {"v": 1, "id": "ab12", "topic": "a.b", "ts": 1.5, "payload": {}}),
    ("PING", None, None),
    ("PONG", None, {}),
    ("BYE", None, {"reason": "bye"}),
]


@pytest.mark.parametrize(("verb", "arg", "body"), ROUND_TRIPS)
def test_round_trip(verb: str, arg: str | None, body: dict[str, object] | None) -> None:
    data = encode_frame(verb, arg, body)
    decoded = decode_frame(data)
    assert (decoded.verb, decoded.arg, decoded.body) == (verb, arg, body or {})


def test_every_verb_is_covered() -> None:
    assert {verb for verb, _, _ in ROUND_TRIPS} == set(VERBS)


def test_empty_body_is_length_zero() -> None:
    assert encode_frame("PING") == b"PING\n\x00\x00\x00\x00"
    assert encode_frame("PUB", "a", {}) == b"PUB a\n\x00\x00\x00\x00"
    assert decode_frame(b"PUB a\n\x00\x00\x00\x00").body == {}


def test_length_is_big_endian() -> None:
    data = encode_frame("PUB", "a", {"k": "x" * 300})
    assert int.from_bytes(data[6:10], "big") == len(data) - 10


def test_decoder_handles_any_split() -> None:
    frames = [encode_frame(v, a, b) for v, a, b in ROUND_TRIPS]
    stream = b"".join(frames)
    for step in (1, 2, 3, 7, 64, len(stream)):
        decoder = FrameDecoder()
        got = []
        for start in range(0, len(stream), step):
            got.extend(decoder.feed(stream[start:start + step]))
        decoder.close()
        assert [(f.verb, f.arg, f.body) for f in got] == [
            (v, a, b or {}) for v, a, b in ROUND_TRIPS
        ]


def test_big_body_in_chunks() -> None:
    body = {"blob": "y" * (MAX_BODY - 100)}
    data = encode_frame("PUB", "a", body)
    decoder = FrameDecoder()
    got = []
    for start in range(0, len(data), 65536):
        got.extend(decoder.feed(data[start:start + 65536]))
    assert len(got) == 1 and got[0].body == body


def test_header_at_the_limit_is_accepted() -> None:
    arg = "a" * (MAX_HEADER - len("PUB \n"))
    assert len(encode_header("PUB", arg)) == MAX_HEADER
    assert decode_frame(frame(encode_header("PUB", arg))).arg == arg
    with pytest.raises(ProtocolError, match="longer than 4096"):
        encode_header("PUB", arg + "a")


@given(st.dictionaries(st.text(max_size=8), st.recursive(
    st.none() | st.booleans() | st.integers(-2**53, 2**53) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                 max_size=3),
    max_leaves=10)))
@settings(max_examples=200, deadline=None, derandomize=True, database=None)
def test_body_round_trip_property(body: dict[str, object]) -> None:
    assert decode_frame(encode_frame("PUB", "x.y", body)).body == body


MALFORMED = [
    (b"FOO a\n" + b"\0\0\0\0", "unknown verb"),
    (b"pub a\n" + b"\0\0\0\0", "unknown verb"),
    (b"PING\r\n" + b"\0\0\0\0", "unknown verb"),
    (b"PUB " + b"a" * MAX_HEADER + b"\n\0\0\0\0", "longer than 4096"),
    (b"PUB " + b"a" * (MAX_HEADER + 10), "longer than 4096"),
    (b"PUB \xc3\xa9\n\0\0\0\0", "not ASCII"),
    (b"PUB a\rb\n\0\0\0\0", "control character"),
    (b"PUB a\tb\n\0\0\0\0", "control character"),
    (b"PUB a b\n\0\0\0\0", "contains a space"),
    (b"PUB  a\n\0\0\0\0", "contains a space"),
    (b"PUB\n\0\0\0\0", "needs an argument"),
    (b"SUB \n\0\0\0\0", "needs an argument"),
    (b"PING x\n\0\0\0\0", "takes no argument"),
    (b"BYE \n\0\0\0\0", "takes no argument"),
    (b"PUB a\n" + (MAX_BODY + 1).to_bytes(4, "big"), "over the"),
    (b"PUB a\n\xff\xff\xff\xff", "over the"),
    (b"PUB a\n\0\0\0\x03{x}", "not valid JSON"),
    (b"PUB a\n\0\0\0\x02\xff\xfe", "not valid JSON"),
    (b"PUB a\n\0\0\0\x02[]", "must be a JSON object"),
    (b"PUB a\n\0\0\0\x01" + b"1", "must be a JSON object"),
    (b"PUB a\n\0\0\0\x04null", "must be a JSON object"),
    (b'PUB a\n\0\0\0\x03"x"', "must be a JSON object"),
]


@pytest.mark.parametrize(("data", "reason"), MALFORMED)
def test_malformed_frame_has_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(ProtocolError, match=reason) as info:
        FrameDecoder().feed(data)
    assert info.value.reason


@pytest.mark.parametrize(("data", "reason"), [
    (b"PUB a", "no newline"),
    (b"PUB a\n\0\0", "truncated"),
    (b"PUB a\n\0\0\0\x10{}", "truncated"),
])
def test_truncated_stream(data: bytes, reason: str) -> None:
    decoder = FrameDecoder()
    assert decoder.feed(data) == []
    with pytest.raises(ProtocolError, match=reason):
        decoder.close()


def test_decode_frame_wants_exactly_one() -> None:
    with pytest.raises(ProtocolError, match="no newline"):
        decode_frame(b"PING")
    with pytest.raises(ProtocolError, match="expected one frame, got 2"):
        decode_frame(encode_frame("PING") * 2)


@pytest.mark.parametrize(("verb", "arg", "body", "reason"), [
    ("NOPE", None, None, "unknown verb"),
    ("PUB", None, None, "needs an argument"),
    ("PUB", "", None, "needs an argument"),
    ("PING", "x", None, "takes no argument"),
    ("PUB", "a\nb", None, "newline"),
    ("PUB", "a b", None, "space"),
    ("PUB", "é", None, "not ASCII"),
    ("PUB", "a\x00", None, "control character"),
    ("PUB", "a", [1, 2], "JSON object"),
    ("PUB", "a", {"x": object()}, "not JSON-serialisable"),
    ("PUB", "a", {"x": "y" * MAX_BODY}, "over the"),
])
def test_encoder_refuses(verb: str, arg: str | None, body: object, reason: str) -> None:
    with pytest.raises(ProtocolError, match=reason):
        encode_frame(verb, arg, body)  # type: ignore[arg-type]


def test_envelope_round_trip_and_bound() -> None:
    topic = 'odd"topic\\x'
    raw = b'{"k":[1,2]}'
    body = envelope_prefix(topic, "abc") + b"0000000001" + envelope_stamp(12.5) + raw + b"}"
    assert len(body) - len(raw) <= envelope_overhead(topic)
    decoded = decode_frame(frame(b"EVT t\n", body)).body
    assert decoded == {"v": 1, "topic": topic, "id": "abc0000000001", "ts": 12.5,
                       "payload": {"k": [1, 2]}}
    event = decode_envelope(topic, decoded)
    assert event == Event(topic, {"k": [1, 2]}, "abc0000000001", 12.5, 1)
    assert event.to_dict() == decoded


@pytest.mark.parametrize("body", [
    {"id": "x", "ts": 1.0}, {"payload": {}, "ts": 1.0}, {"payload": [], "id": "x", "ts": 1.0},
    {"payload": {}, "id": "x", "ts": "soon"},
])
def test_bad_envelope(body: dict[str, object]) -> None:
    with pytest.raises(ProtocolError):
        decode_envelope("a", body)


def test_good_frames_before_garbage_come_out_first() -> None:
    decoder = FrameDecoder()
    frames = decoder.feed(encode_frame("PING") + b"JUNK\n\0\0\0\0" + encode_frame("PING"))
    assert [f.verb for f in frames] == ["PING"]
    assert decoder.error is not None and "unknown verb" in decoder.error.reason
    with pytest.raises(ProtocolError, match="unknown verb"):
        decoder.feed(b"")
