"""Backend of `decnet.mazenet.decnet_mutation`: one idempotent op on a live topology.

The op is first applied (in memory) to the stored topology with the still-open mutations
of its queue applied on top: when that changes nothing, the effect is already there (or
already queued) and nothing is enqueued.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from decnet_lib.automation.connection import Connection
from decnet_lib.automation.documents import as_document
from decnet_lib.automation.errors import AutomationError, from_decnet_error
from decnet_lib.db import (
    Mutation,
    get_topology,
    load_resolved,
    neighbours,
    new_session,
    session_scope,
)
from decnet_lib.errors import DecnetError
from decnet_lib.master.lifecycle import push_hook
from decnet_lib.mutations.apply import Applied, already_there, apply_op
from decnet_lib.mutations.payloads import parse_payload
from decnet_lib.mutations.queue import (
    ENQUEUE_STATUSES,
    OPEN_STATES,
    enqueue_mutation,
    list_mutations,
)
from decnet_lib.mutations.reconciler import wait_for_mutation
from decnet_lib.mutations.view import mutation_view
from decnet_lib.topology.resolved import ResolvedTopology
from decnet_lib.validation.context import ValidationContext

DEFAULT_TIMEOUT = 120.0


def _project(current: ResolvedTopology, queued: list[Mutation],
             context: ValidationContext) -> ResolvedTopology:
    """The topology once the open mutations are applied (those that would fail are skipped)."""
    topology = current
    for queued_mutation in queued:
        try:
            topology = apply_op(topology, queued_mutation.op, queued_mutation.payload,
                                validation_context=context).topology
        except DecnetError:
            continue
    return topology


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
        with connection.environment():
            return _mutation(connection, topology, op, dict(payload or {}), wait, timeout,
                             check_mode)
    except AutomationError:
        raise
    except DecnetError as exc:
        raise from_decnet_error(exc, prefix=f"{op} on {topology}: ") from None


def _mutation(connection: Connection, topology: str, op: str, payload: dict[str, Any],
              wait: bool, timeout: float, check_mode: bool) -> dict[str, Any]:
    parse_payload(op, payload)
    with connection.environment(), connection.engine(check_mode) as engine:
        if engine is None:
            return _assumed(topology, op, "there is no database yet")
        session = new_session(engine)
        try:
            row = get_topology(session, topology)
            if row is None:
                if check_mode:
                    return _assumed(topology, op, f"no topology named {topology!r} yet")
                raise AutomationError(f"no topology named {topology!r} is stored",
                                      code="NOT_FOUND")
            if row.status not in ENQUEUE_STATUSES:
                if check_mode:
                    return _assumed(topology, op, f"{topology} is {row.status}, not live yet")
                raise AutomationError(
                    f"topology {topology} is {row.status}: mutations apply to active or "
                    "degraded topologies only (deploy it first)", code="REFUSED")
            current = load_resolved(session, row)
            context = neighbours(session, exclude_id=row.id, agent=row.agent)
            queued = [m for m in list_mutations(session, topology) if m.state in OPEN_STATES]
            projected = _project(current, queued, context)
            try:
                applied = apply_op(projected, op, payload, validation_context=context)
            except DecnetError as exc:
                if not already_there(op, exc):
                    raise from_decnet_error(exc, prefix=f"{op} on {topology} would fail: ") \
                        from None
                applied = Applied(projected, False)
            diff = {"before": as_document(projected), "after": as_document(applied.topology)}
            last_open = queued[-1].id if queued else None
        finally:
            session.rollback()
            session.close()
        if not applied.changed:
            result: dict[str, Any] = {"changed": False, "diff": diff, "mutation": None,
                                      "status": current.status, "queued": len(queued)}
            if wait and last_open is not None and not check_mode:
                result["mutation"] = _wait(connection, last_open, timeout)
            return result
        if check_mode:
            return {"changed": True, "diff": diff, "status": current.status,
                    "mutation": {"op": op, "payload": payload, "state": "would_enqueue"},
                    "queued": len(queued)}
        with session_scope(engine) as session:
            queued_mutation = enqueue_mutation(session, topology, op, payload)
            session.flush()
            view = mutation_view(queued_mutation)
        if not wait:
            return {"changed": True, "diff": diff, "mutation": view, "status": current.status,
                    "queued": len(queued) + 1}
        final = _wait(connection, view["id"], timeout)
        with connection.engine() as engine_after:
            assert engine_after is not None
            session = new_session(engine_after)
            try:
                status_row = get_topology(session, topology)
                status = status_row.status if status_row is not None else "absent"
            finally:
                session.close()
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
            waited = wait_for_mutation(engine, mutation_id, push_hook(connection.targets()),
                                       timeout)
        except TimeoutError as exc:
            raise AutomationError(str(exc), code="TIMEOUT", mutation_id=mutation_id) from None
        view = mutation_view(waited.mutation)
    if view["state"] == "failed":
        error = view["error"] or {}
        raise AutomationError(
            f"mutation {view['id']} ({view['op']}) failed: {error.get('code')}: "
            f"{error.get('message')}", code=str(error.get("code") or "MUTATION_FAILED"),
            mutation=view, issues=error.get("issues", []))
    if waited.push_error:
        raise AutomationError(
            f"mutation {view['id']} ({view['op']}) was applied to the record but the target "
            f"did not follow: {waited.push_error}", code="PUSH_FAILED", mutation=view)
    return view
