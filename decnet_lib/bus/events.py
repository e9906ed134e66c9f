"""Events as subscribers see them: the EVT envelope `{"v":1,"id","topic","ts","payload"}`."""

from __future__ import annotations

import itertools
import os
from typing import Any, NamedTuple

import orjson

from decnet_lib.bus.errors import ProtocolError
from decnet_lib.bus.protocol import EVENT_VERSION, MAX_BODY

_ID_PREFIX = os.urandom(6).hex()
_counter = itertools.count(1)
_new_event = tuple.__new__


def new_id_prefix() -> str:
    """A random hex prefix for event ids (ids are `prefix + %010x counter`)."""
    return os.urandom(6).hex()


def new_event_id() -> str:
    """A hex id, unique per process run (random prefix, then a counter)."""
    return f"{_ID_PREFIX}{next(_counter):010x}"


class Event(NamedTuple):
    """One delivered event (immutable; its payload dict is shared by local subscribers)."""

    topic: str
    payload: dict[str, Any]
    id: str
    ts: float
    v: int = EVENT_VERSION

    def to_dict(self) -> dict[str, Any]:
        """The envelope as a dict (what `decnet bus tail --json` prints)."""
        return {"v": self.v, "id": self.id, "topic": self.topic, "ts": self.ts,
                "payload": self.payload}


def envelope_overhead(topic: str) -> int:
    """Upper bound of the bytes the envelope adds around a payload on `topic`."""
    return 96 + len(orjson.dumps(topic))


def check_payload_size(topic: str, raw: bytes) -> None:
    """Refuse a payload whose event envelope would be over the body limit."""
    if len(raw) + envelope_overhead(topic) > MAX_BODY:
        raise ProtocolError(
            f"payload of {len(raw)} bytes does not fit an event body of at most {MAX_BODY} bytes"
        )


def envelope_prefix(topic: str, id_prefix: str) -> bytes:
    """The constant head of every EVT body on `topic`: `{"v":1,"topic":...,"id":"<prefix>`.

    A body is `prefix + id_suffix + envelope_stamp(ts) + payload_json + b"}"`; the payload
    JSON (already validated) is spliced in unchanged instead of being re-encoded.
    """
    return b"".join((b'{"v":', str(EVENT_VERSION).encode(), b',"topic":', orjson.dumps(topic),
                     b',"id":"', id_prefix.encode("ascii")))


def envelope_stamp(ts: float) -> bytes:
    """The middle of an EVT body: closes the id, then the time stamp, then opens the payload."""
    return b'","ts":' + repr(ts).encode("ascii") + b',"payload":'


def decode_envelope(topic: str, body: dict[str, Any]) -> Event:
    """An Event from a decoded EVT body; raises ProtocolError when the envelope is wrong."""
    try:
        payload, event_id, ts = body["payload"], body["id"], body["ts"]
    except KeyError as exc:
        raise ProtocolError(f"EVT body lacks {exc}") from None
    if type(payload) is not dict or type(event_id) is not str:
        raise ProtocolError("EVT body is not an event envelope")
    if type(ts) is not float:
        try:
            ts = float(ts)
        except (TypeError, ValueError):
            raise ProtocolError("EVT ts is not a number") from None
    return _new_event(Event, (topic, payload, event_id, ts, body.get("v", EVENT_VERSION)))

