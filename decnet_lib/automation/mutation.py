"""Backend of `decnet.mazenet.decnet_mutation`: one idempotent op on a live topology.

The use case (`decnet_lib.master.mutations`) queues the op unless its effect is already
there (or already queued); this module shapes the result, the diff and check mode.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from decnet_lib.automation.connection import Connection
from decnet_lib.automation.errors import AutomationError, from_decnet_error
from decnet_lib.errors import DecnetError, NotFound
from decnet_lib.master import mutations
from decnet_lib.master.documents import as_document

DEFAULT_TIMEOUT = 120.0


def _assumed(topology: str, op: str, reason: str) -> dict[str, Any]:
    """Check mode on a topology an earlier task would create or deploy: assume a change."""
    return {
        "changed": True,
        "diff": {"before": {}, "after": {}},
        "mutation": {"op": op, "state": "would_enqueue"},
        "warnings": [f"check mode: {reason}; assuming {op} would change {topology}"],
    }


def mutation(
    connection: Connection,
    topology: str,
    op: str,
    payload: Mapping[str, Any] | None = None,
    wait: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    check_mode: bool = False,
) -> dict[str, Any]:
    """Queue one op unless its effect is already there; with `wait`, apply it now.

    `wait` drains the topology's queue in-process (the same atomic claims as the
    reconcilers), pushes the new form to the target and fails when the mutation failed.
    Without `wait` a running `decnet reconcile --watch` applies it.
    """
    try:
        return _mutation(connection, topology, op, dict(payload or {}), wait, timeout,
                         check_mode)
    except AutomationError:
        raise
    except DecnetError as exc:
        raise from_decnet_error(exc, prefix=f"{op} on {topology}: ") from None


def _preview(engine: Any, topology: str, op: str, payload: dict[str, Any],
             check_mode: bool) -> mutations.Preview | dict[str, Any]:
    """The preview, or (check mode on a topology not there or not live yet) the assumption."""
    try:
        return mutations.preview(engine, topology, op, payload)
    except NotFound:
        if check_mode:
            return _assumed(topology, op, f"no topology named {topology!r} yet")
        raise AutomationError(f"no topology named {topology!r} is stored",
                              code="NOT_FOUND") from None
    except mutations.NotLive as exc:
        if check_mode:
            status = exc.details["status"]
            return _assumed(topology, op, f"{topology} is {status}, not live yet")
        raise AutomationError(exc.message, code=exc.code) from None
    except mutations.OpWouldFail as exc:
        raise from_decnet_error(exc.cause, prefix=f"{op} on {topology} would fail: ") from None


def _mutation(connection: Connection, topology: str, op: str, payload: dict[str, Any],
              wait: bool, timeout: float, check_mode: bool) -> dict[str, Any]:
    mutations.check_payload(op, payload)
    with connection.engine(check_mode) as engine:
        if engine is None:
            return _assumed(topology, op, "there is no database yet")
        found = _preview(engine, topology, op, payload, check_mode)
        if isinstance(found, dict):
            return found
        diff = {"before": as_document(found.projected), "after": as_document(found.after)}
        status = found.current.status
        if not found.changed:
            result: dict[str, Any] = {"changed": False, "diff": diff, "mutation": None,
                                      "status": status, "queued": found.queued}
            if wait and found.last_open is not None and not check_mode:
                result["mutation"] = _wait(connection, found.last_open, timeout)
            return result
        if check_mode:
            return {"changed": True, "diff": diff, "status": status,
                    "mutation": {"op": op, "payload": payload, "state": "would_enqueue"},
                    "queued": found.queued}
        view = mutations.enqueue(engine, topology, op, payload)
    if not wait:
        return {"changed": True, "diff": diff, "mutation": view, "status": status,
                "queued": found.queued + 1}
    final = _wait(connection, view["id"], timeout)
    with connection.engine() as engine_after:
        assert engine_after is not None
        status = mutations.topology_status(engine_after, topology)
    result = {"changed": True, "diff": diff, "mutation": final, "status": status,
              "queued": 0}
    if status != "active":
        result["warnings"] = [f"{topology} is {status} after the mutation: its target does "
                              "not match the stored topology (see decnet_topology_info)"]
    return result


def _wait(connection: Connection, mutation_id: int, timeout: float) -> dict[str, Any]:
    """Drain until the mutation is applied (its view) or failed (AutomationError)."""
    with connection.engine(immediate=True) as engine:
        assert engine is not None
        try:
            finished = mutations.wait(engine, mutation_id, timeout, connection.targets())
        except DecnetError as exc:
            if exc.code != "TIMEOUT":
                raise
            raise AutomationError(exc.message, code=exc.code, **exc.details) from None
    view = finished.view
    if view["state"] == "failed":
        error = view["error"] or {}
        raise AutomationError(
            f"mutation {view['id']} ({view['op']}) failed: {error.get('code')}: "
            f"{error.get('message')}", code=str(error.get("code") or "MUTATION_FAILED"),
            mutation=view, issues=error.get("issues", []))
    if finished.push_error:
        raise AutomationError(
            f"mutation {view['id']} ({view['op']}) was applied to the record but the target "
            f"did not follow: {finished.push_error}", code="PUSH_FAILED", mutation=view)
    return view
