"""Pre-encoded JSON of resolved topologies, so that `show` does not dump, validate and
encode 33 KB of JSON for a 100-decky topology on every request.

The resolved cache (`master/resolved_cache.py`) hands out the same `ResolvedTopology` object
while the row's (version, hash, status, updated_at) are unchanged and a new one after any
change; the bytes here are kept per object (identity), so an edit changes the answer at once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import orjson

from decnet_lib.topology.resolved import ResolvedTopology


class EncodedTopologies:
    """The JSON of the last `size` resolved topologies seen, by object; thread-safe."""

    def __init__(self, size: int = 32) -> None:
        self.size = size
        # id -> (the object, kept so that its id is not reused; its JSON)
        self._entries: OrderedDict[int, tuple[ResolvedTopology, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def of(self, resolved: ResolvedTopology) -> bytes:
        """`resolved` as a JSON object (as FastAPI would encode it)."""
        key = id(resolved)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] is resolved:
                self._entries.move_to_end(key)
                return entry[1]
        body = resolved.__pydantic_serializer__.to_json(resolved, by_alias=True)
        with self._lock:
            self._entries[key] = (resolved, body)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return body


ENCODED = EncodedTopologies()


def with_fields(encoded: bytes, fields: dict[str, Any]) -> bytes:
    """The JSON object `encoded` with `fields` added (keys not already in it)."""
    extra = orjson.dumps(fields)
    if extra == b"{}":
        return encoded
    return encoded[:-1] + (b"," if encoded != b"{}" else b"") + extra[1:]
