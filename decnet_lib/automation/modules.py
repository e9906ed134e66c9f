"""Entry points of the Ansible modules: module parameters in, result dict out.

The modules only parse their arguments (the shared connection options included) and
call one of these; every decision is taken here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from decnet_lib.automation.connection import Connection
from decnet_lib.automation.errors import AutomationError
from decnet_lib.automation.events import DEFAULT_LIMIT, events_info
from decnet_lib.automation.info import topology_info
from decnet_lib.automation.inputs import load_input
from decnet_lib.automation.mutation import DEFAULT_TIMEOUT, mutation
from decnet_lib.automation.topology import (
    topology_absent,
    topology_deployed,
    topology_present,
    topology_torn_down,
)
from decnet_lib.master.documents import document_name

STATES = ("present", "deployed", "torn_down", "absent")


@contextmanager
def published(connection: Connection, check_mode: bool) -> Iterator[None]:
    """Publish what the call changes on the bus, as the CLI does: every status transition
    on `topology.<id>.status`, queued mutations on `topology.<id>.mutation.*` (which wakes a
    watching reconciler at once). Notification only: a bus that is down changes nothing.
    Check mode changes nothing, so it publishes nothing."""
    if check_mode:
        yield
        return
    from decnet_lib.master.wiring import wire_events

    unwire = wire_events(connection.settings)
    try:
        yield
    finally:
        unwire()


def _name(params: Mapping[str, Any], connection: Connection) -> str:
    """The topology name: `name`, else the name inside `spec`/`src`."""
    name = params.get("name")
    if name:
        return str(name)
    if params.get("spec") is None and params.get("src") is None:
        raise AutomationError("give name, src or spec", code="USAGE")
    claimed = document_name(load_input(params.get("spec"), params.get("src"),
                                       connection.settings.max_document_bytes))
    if not claimed:
        raise AutomationError("the topology document has no name", code="USAGE")
    return claimed


def run_topology(params: Mapping[str, Any], check_mode: bool = False) -> dict[str, Any]:
    """decnet.mazenet.decnet_topology."""
    connection = Connection.from_params(params)
    state = params.get("state") or "present"
    spec, src = params.get("spec"), params.get("src")
    replace = bool(params.get("replace"))
    if state not in STATES:
        raise AutomationError(f"unknown state {state!r}: use one of {', '.join(STATES)}",
                              code="USAGE")
    with published(connection, check_mode):
        if state == "present":
            return topology_present(connection, spec=spec, src=src, replace=replace,
                                    check_mode=check_mode)
        if state == "deployed":
            return topology_deployed(connection, spec=spec, src=src, name=params.get("name"),
                                     replace=replace, check_mode=check_mode)
        if state == "torn_down":
            return topology_torn_down(connection, _name(params, connection),
                                      check_mode=check_mode)
        return topology_absent(connection, _name(params, connection), check_mode=check_mode)


def run_mutation(params: Mapping[str, Any], check_mode: bool = False) -> dict[str, Any]:
    """decnet.mazenet.decnet_mutation."""
    timeout = params.get("timeout")
    connection = Connection.from_params(params)
    with published(connection, check_mode):
        return mutation(
            connection,
            str(params["topology"]),
            str(params["op"]),
            params.get("payload") or {},
            wait=bool(params.get("wait", True)),
            timeout=float(timeout) if timeout is not None else DEFAULT_TIMEOUT,
            check_mode=check_mode,
        )


def run_info(params: Mapping[str, Any], check_mode: bool = False) -> dict[str, Any]:
    """decnet.mazenet.decnet_topology_info (read only: check mode changes nothing)."""
    return topology_info(Connection.from_params(params), params.get("name") or None)


def run_events_info(params: Mapping[str, Any], check_mode: bool = False) -> dict[str, Any]:
    """decnet.mazenet.decnet_events_info (read only: check mode changes nothing)."""
    limit = params.get("limit")
    return events_info(Connection.from_params(params), topology=params.get("topology") or None,
                       attacker=params.get("attacker") or None,
                       since=params.get("since") or None,
                       limit=int(limit) if limit is not None else DEFAULT_LIMIT)
