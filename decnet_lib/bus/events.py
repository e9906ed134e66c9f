"""Events as subscribers see them: the EVT envelope `{"v":1,"id","topic","ts","payload"}`."""

from __future__ import annotations

import itertools
import os
import time
from dataclasses import dataclass
from typing import Any

import orjson

from decnet_lib.bus.errors import ProtocolError
from decnet_lib.bus.protocol import EVENT_VERSION, MAX_BODY

_ID_PREFIX = os.urandom(6).hex()
_counter = itertools.count(1)


def new_event_id() -> str:
    """A hex id, unique per process run (random prefix, then a counter)."""
    return f"{_ID_PREFIX}{next(_counter):010x}"


@dataclass(frozen=True, slots=True)
class Event:
    """One delivered event."""

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


def encode_envelope(event_id: str, topic_json: bytes, ts: float, raw_payload: bytes) -> bytes:
    """The EVT body bytes, splicing the (already validated) payload JSON in unchanged."""
    return b"".join((
        b'{"v":1,"id":"', event_id.encode("ascii"), b'","topic":', topic_json,
        b',"ts":', repr(ts).encode("ascii"), b',"payload":', raw_payload or b"{}", b"}",
    ))


def decode_envelope(topic: str, body: dict[str, Any]) -> Event:
    """An Event from a decoded EVT body; raises ProtocolError when the envelope is wrong."""
    payload = body.get("payload", {})
    if type(payload) is not dict:
        raise ProtocolError("EVT payload must be a JSON object")
    try:
        return Event(topic=body.get("topic", topic), payload=payload, id=str(body["id"]),
                     ts=float(body["ts"]), v=int(body.get("v", EVENT_VERSION)))
    except (KeyError, TypeError, ValueError) as exc:
        raise ProtocolError(f"EVT body is not an event envelope: {exc}") from exc


def make_event(topic: str, payload: dict[str, Any]) -> Event:
    """A fresh Event stamped now (used by the in-process buses)."""
    return Event(topic=topic, payload=payload, id=new_event_id(), ts=time.time())
