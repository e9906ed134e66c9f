"""Read models of stored topologies: summaries, and one topology with its recent events
and what its target runs (never writes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sqlalchemy import Engine, select

from decnet_lib.db import TopologyEvent, get_topology, load_resolved
from decnet_lib.master.database import read_session
from decnet_lib.master.resolved_cache import RESOLVED
from decnet_lib.master.targets import LOCAL
from decnet_lib.master.topologies import summaries
from decnet_lib.topology.resolved import ResolvedTopology

RECENT_EVENTS = 10


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


def stored_topology(engine: Engine, name: str, recent: int = RECENT_EVENTS
                    ) -> StoredTopology | None:
    """The topology `name` with its `recent` last status changes (None when absent).

    The resolved topology is shared with other readers (see resolved_cache): read only.
    """
    with read_session(engine) as session:
        row = get_topology(session, name) if session is not None else None
        if row is None or session is None:
            return None
        resolved = RESOLVED.get(session, row, partial(load_resolved, session, row))
        events = [
            {"from": e.from_status, "to": e.to_status, "reason": e.reason,
             "at": e.created_at.isoformat() if e.created_at else None}
            for e in session.scalars(
                select(TopologyEvent).where(TopologyEvent.topology_id == row.id)
                .order_by(TopologyEvent.id.desc()).limit(recent))
        ]
        return StoredTopology(resolved, row.agent or LOCAL, list(reversed(events)))
