"""The resolved form of stored topologies, kept between reads while the row says nothing
changed: rebuilding a 100-decky topology from its rows costs several ms, checking the row a
fraction of one. Used by the read model of one topology (show); the list counts in SQL.

Every content write (`replace_resolved`) bumps the row's `version` and `hash`; the status is
the row's own column. An entry is keyed by the database URL and the topology id and used only
while (version, hash, status, updated_at) are those it was built from. The cached object is
shared by the readers: they read it and never change it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine

from decnet_lib.topology.resolved import ResolvedTopology

Stamp = tuple[int, str, str, datetime | None]
Key = tuple[str, str]


def stamp(row: Any) -> Stamp:
    """What identifies one state of a stored topology's content and status (`row`: a
    `topologies` row, ORM object or Core row with those columns)."""
    return (row.version, row.hash, row.status, row.updated_at)


def cache_key(bind: Engine | Connection, topology_id: str) -> Key:
    """The entry of topology `topology_id` in the database `bind` reads."""
    return (str(bind.engine.url), topology_id)


class ResolvedCache:
    """A small LRU of resolved topologies, safe to use from a server's worker threads."""

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._entries: OrderedDict[Key, tuple[Stamp, ResolvedTopology]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Key, state: Stamp,
            build: Callable[[], ResolvedTopology]) -> ResolvedTopology:
        """The entry `key` when it was built from `state`, else `build()` (then kept)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] == state:
                self._entries.move_to_end(key)
                return entry[1]
        resolved = build()
        with self._lock:
            self._entries[key] = (state, resolved)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return resolved

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


RESOLVED = ResolvedCache()
