"""Backend of `decnet.mazenet.decnet_topology_info`: stored topologies and their health."""

from __future__ import annotations

from typing import Any

from decnet_lib.automation.connection import LOCAL, Connection
from decnet_lib.automation.errors import AutomationError, from_decnet_error
from decnet_lib.errors import DecnetError
from decnet_lib.master.access import access_hints, expected_containers
from decnet_lib.master.info import list_with_targets, stored_topology
from decnet_lib.topology.render import summary


def topology_info(connection: Connection, name: str | None = None) -> dict[str, Any]:
    """Every stored topology (summaries), or one in detail with what its target runs.

    Never writes: a database that does not exist yet simply holds no topology.
    `healthy` is true when the topology is active and every container it needs runs.
    """
    try:
        return _info(connection, name)
    except AutomationError:
        raise
    except DecnetError as exc:
        raise from_decnet_error(exc) from None


def _info(connection: Connection, name: str | None) -> dict[str, Any]:
    with connection.engine(check_mode=True) as engine:
        if engine is None:
            return {"changed": False, "exists": False, "topologies": []}
        if name is None:
            rows = list_with_targets(engine)
            return {"changed": False, "exists": bool(rows), "topologies": rows}
        found = stored_topology(engine, name)
    if found is None:
        return {"changed": False, "exists": False, "topologies": []}
    resolved, target = found.resolved, found.target
    # the decky event log is written by an agent's collector, on the agent's host
    configured = connection.settings.configured("agent_log_file")
    log_file = None if target == LOCAL or configured is None else str(configured)
    expected = expected_containers(resolved)
    target_error = None
    try:
        observed = connection.targets()(target).observed(resolved.id)
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
        "events": found.events,
        "access": access_hints(resolved, target, log_file),
    }
