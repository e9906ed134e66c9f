"""What agents really hold: predecessors torn down by a push, and drift of live topologies.

The database is the source of truth for what *should* run; these use cases keep its
statuses honest about what *does* run: a topology another deploy replaced on its agent is
recorded torn down, and a live topology whose target differs is degraded (with the
reason), then active again once the target matches.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select

from decnet_lib.db import Topology, load_resolved, lock_topology, new_session
from decnet_lib.db.status import (
    SERVING_STATUSES,
    UNDEPLOYED_STATUSES,
    allowed,
    settle,
    transition,
)
from decnet_lib.errors import DecnetError
from decnet_lib.master.targets import LOCAL, TargetFactory, target_for

log = logging.getLogger("decnet.master")


@dataclass(frozen=True)
class Drift:
    """One live topology compared with its target."""

    name: str
    topology_id: str
    before: str
    after: str
    reason: str


def record_predecessors(engine: Engine, predecessors: Iterable[Mapping[str, Any]],
                        agent: str, successor: str) -> list[str]:
    """Record as torn down the topologies an agent tore down to take `successor`."""
    recorded = []
    with new_session(engine) as session:
        for item in predecessors:
            topology_id = str(item.get("topology_id") or "")
            ok = item.get("ok", not item.get("errors"))
            row = lock_topology(session, topology_id, missing_ok=True) if topology_id else None
            if row is None or not ok or row.status in UNDEPLOYED_STATUSES:
                continue
            reason = f"torn down by agent {agent} to deploy {successor} there"
            settle(session, row, "tearing_down", reason)
            if allowed(row.status, "torn_down"):
                transition(session, row, "torn_down", reason)
                recorded.append(row.name)
        session.commit()
    return recorded


def check_drift(engine: Engine, targets: TargetFactory = target_for) -> list[Drift]:
    """Compare every live topology with what its target holds; degrade on drift, heal
    back to active when it matches. An unreachable target is drift too."""
    with new_session(engine) as session:
        rows = session.scalars(
            select(Topology).where(Topology.status.in_(SERVING_STATUSES))).all()
        work = [(row.id, row.name, row.agent, load_resolved(session, row)) for row in rows]
    results = []
    for topology_id, name, agent, resolved in work:
        try:
            seen = targets(agent).observe(resolved)
            matches, reason = seen.matches, seen.reason
        except DecnetError as exc:
            matches, reason = False, f"{agent or LOCAL} cannot be asked: {exc.message}"
        with new_session(engine) as session:
            row = lock_topology(session, topology_id, missing_ok=True)
            if row is None or row.status not in SERVING_STATUSES:
                continue
            before = row.status
            wanted = "active" if matches else "degraded"
            settle(session, row, wanted, reason)
            if row.status != before:
                log.info("drift check: %s %s -> %s (%s)", name, before, wanted, reason)
            results.append(Drift(name, topology_id, before, row.status, reason))
            session.commit()
    return results
