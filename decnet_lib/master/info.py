"""Read models of stored topologies: summaries, and one topology with its recent events
and what its target runs (never writes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, bindparam, select
from sqlalchemy.orm import Session

from decnet_lib.db import Topology, TopologyEvent, load_resolved, read_only
from decnet_lib.master.database import read_session
from decnet_lib.master.resolved_cache import RESOLVED, cache_key, stamp
from decnet_lib.master.targets import LOCAL
from decnet_lib.master.topologies import summaries
from decnet_lib.topology.resolved import ResolvedTopology

RECENT_EVENTS = 10
HEAD = select(Topology.id, Topology.version, Topology.hash, Topology.status,
              Topology.updated_at, Topology.agent).where(Topology.name == bindparam("name"))
"""A stored topology's identity, state stamp and target, by name."""
RECENT = (select(TopologyEvent.from_status, TopologyEvent.to_status, TopologyEvent.reason,
                 TopologyEvent.created_at)
          .where(TopologyEvent.topology_id == bindparam("topology_id"))
          .order_by(TopologyEvent.id.desc()).limit(RECENT_EVENTS))
"""Its last `RECENT_EVENTS` status changes, newest first."""


@dataclass
class StoredTopology:
    """One stored topology, its target and its last status changes (oldest first)."""

    resolved: ResolvedTopology
    target: str
    events: list[dict[str, Any]] = field(default_factory=list)


def list_with_targets(engine: Engine) -> list[dict[str, Any]]:
    """Every stored topology's summary with its target and last update."""
    with read_session(engine) as session:
        assert session is not None
        return summaries(session, with_target=True)


def stored_topology(engine: Engine, name: str) -> StoredTopology | None:
    """The topology `name` with its `RECENT_EVENTS` last status changes (None when absent).

    Read with two small Core statements in one read-only transaction (the row's state and
    its last changes); the resolved form is rebuilt from its rows only when that state is
    not the cached one's (see resolved_cache). The resolved topology is shared with other
    readers: read only.
    """
    with read_only(engine).connect() as connection:
        head = connection.execute(HEAD, {"name": name}).one_or_none()
        if head is None:
            return None
        events = [{"from": e.from_status, "to": e.to_status, "reason": e.reason,
                   "at": e.created_at.isoformat() if e.created_at else None}
                  for e in connection.execute(RECENT, {"topology_id": head.id})]

        def rebuild() -> ResolvedTopology:  # in the same transaction: from the same state
            with Session(bind=connection) as session:
                row = session.get(Topology, head.id)
                assert row is not None
                return load_resolved(session, row)

        resolved = RESOLVED.get(cache_key(connection, head.id), stamp(head), rebuild)
        return StoredTopology(resolved, head.agent or LOCAL, list(reversed(events)))
