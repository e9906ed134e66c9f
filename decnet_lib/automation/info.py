"""Backend of `decnet.mazenet.decnet_topology_info`: stored topologies and their health."""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import select

from decnet_lib.automation import targets as tg
from decnet_lib.automation.connection import Connection
from decnet_lib.automation.errors import AutomationError, from_decnet_error
from decnet_lib.db import TopologyEvent, get_topology, list_topologies, load_resolved, new_session
from decnet_lib.errors import DecnetError
from decnet_lib.master.targets import LOCAL
from decnet_lib.topology.render import summary

RECENT_EVENTS = 10


def topology_info(connection: Connection, name: str | None = None) -> dict[str, Any]:
    """Every stored topology (summaries), or one in detail with what its target runs.

    Never writes: a database that does not exist yet simply holds no topology.
    `healthy` is true when the topology is active and every container it needs runs.
    """
    try:
        with connection.environment():
            return _info(connection, name)
    except AutomationError:
        raise
    except DecnetError as exc:
        raise from_decnet_error(exc) from None


def _info(connection: Connection, name: str | None) -> dict[str, Any]:
    with connection.environment(), connection.engine(check_mode=True) as engine:
        if engine is None:
            return {"changed": False, "exists": False, "topologies": []}
        session = new_session(engine)
        try:
            if name is None:
                rows = [
                    {**summary(load_resolved(session, row)), "target": row.agent or LOCAL,
                     "updated_at": row.updated_at.isoformat() if row.updated_at else None}
                    for row in list_topologies(session)
                ]
                return {"changed": False, "exists": bool(rows), "topologies": rows}
            row = get_topology(session, name)
            if row is None:
                return {"changed": False, "exists": False, "topologies": []}
            resolved = load_resolved(session, row)
            target = row.agent or LOCAL
            events = [
                {"from": e.from_status, "to": e.to_status, "reason": e.reason,
                 "at": e.created_at.isoformat() if e.created_at else None}
                for e in session.scalars(
                    select(TopologyEvent).where(TopologyEvent.topology_id == row.id)
                    .order_by(TopologyEvent.id.desc()).limit(RECENT_EVENTS))
            ]
        finally:
            session.rollback()
            session.close()
        # the decky event log is written by an agent's collector, on the agent's host
        log_file = None if target == LOCAL else os.environ.get("DECNET_AGENT_LOG_FILE")
    expected = tg.expected_containers(resolved)
    target_error = None
    try:
        observed = tg.observed_containers(connection.targets(), target, resolved.id)
    except DecnetError as exc:
        observed, target_error = [], exc.message
    running = {c["name"] for c in observed if c.get("state") == "running"}
    missing = [c for c in expected if c not in running]
    return {
        "changed": False,
        "exists": True,
        "topology": resolved.model_dump(),
        "summary": summary(resolved),
        "status": resolved.status,
        "target": target,
        "containers": observed,
        "expected_containers": len(expected),
        "running_containers": len(running),
        "missing_containers": missing,
        "healthy": resolved.status == "active" and not missing and target_error is None,
        "target_error": target_error,
        "events": list(reversed(events)),
        "access": tg.access_hints(resolved, target, log_file),
    }
