"""The topology status state machine: checked moves, recorded events, post-commit listeners.

Listeners `(topology_id, from_status, to_status, reason)` run only once the transaction that
made the change has committed (never after a rollback); one that raises is logged and skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from decnet_lib.db.after_commit import call_after_commit
from decnet_lib.db.models import Topology, TopologyEvent, utcnow
from decnet_lib.errors import InvalidTransition

log = logging.getLogger(__name__)

StatusListener = Callable[[str, str | None, str, str], Any]
Change = tuple[str, str | None, str, str]

STATUSES = (
    "pending", "deploying", "active", "degraded", "failed", "tearing_down", "torn_down",
)
TRANSITIONS: dict[str, frozenset[str]] = {
    "pending": frozenset({"deploying"}),
    "deploying": frozenset({"active", "degraded", "failed", "tearing_down"}),
    "active": frozenset({"degraded", "tearing_down"}),
    "degraded": frozenset({"active", "tearing_down"}),
    "failed": frozenset({"deploying", "tearing_down"}),
    "tearing_down": frozenset({"torn_down", "failed"}),
    "torn_down": frozenset({"deploying"}),
}
SERVING_STATUSES = frozenset({"active", "degraded"})
"""Deployed and answering: mutations apply, a deploy re-applies in place."""
OCCUPYING_STATUSES = frozenset(STATUSES) - {"torn_down"}
"""Holds its subnets and host ports (a neighbour in cross-topology checks)."""
DEPLOYED_STATUSES = frozenset({"deploying", "active", "degraded", "failed", "tearing_down"})
"""May have objects on its target (a predecessor an agent must drop first)."""
UNDEPLOYED_STATUSES = frozenset(STATUSES) - DEPLOYED_STATUSES
"""Nothing of it is deployed: pending or torn_down."""
BUSY_STATUSES = frozenset({"deploying", "tearing_down"})
"""A deploy or a teardown is under way."""

_listeners: list[StatusListener] = []


def add_status_listener(listener: StatusListener) -> None:
    """Call `listener(topology_id, from_status, to_status, reason)` after each committed change."""
    if listener not in _listeners:
        _listeners.append(listener)


def remove_status_listener(listener: StatusListener) -> None:
    """Stop calling `listener` (no error when it was not registered)."""
    if listener in _listeners:
        _listeners.remove(listener)


def allowed(from_status: str | None, to_status: str) -> bool:
    """Whether the state machine allows moving from `from_status` to `to_status`."""
    return to_status in TRANSITIONS.get(from_status or "", frozenset())


def settle(session: Session, topology: Topology, wanted: str, reason: str) -> None:
    """Move to `wanted` when that differs from now and the state machine allows it."""
    if topology.status != wanted and allowed(topology.status, wanted):
        transition(session, topology, wanted, reason)


def transition(
    session: Session, topology: Topology, to_status: str, reason: str = ""
) -> TopologyEvent:
    """Move `topology` to `to_status` in the caller's transaction and record the event.

    The change is a compare-and-set on the stored status, so a concurrent move is refused
    rather than overwritten. Raises InvalidTransition for a move the machine does not allow.
    """
    from_status = topology.status
    if to_status not in STATUSES:
        raise InvalidTransition(f"topology {topology.name}: unknown status {to_status!r}")
    if not allowed(from_status, to_status):
        raise InvalidTransition(
            f"topology {topology.name} cannot go from {from_status} to {to_status}"
        )
    now = utcnow()
    result = session.execute(
        update(Topology)
        .where(Topology.id == topology.id, Topology.status == from_status)
        .values(status=to_status, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(topology, ["status"])
        raise InvalidTransition(
            f"topology {topology.name} changed status concurrently "
            f"(now {topology.status}); not moving it to {to_status}"
        )
    set_committed_value(topology, "status", to_status)
    set_committed_value(topology, "updated_at", now)
    record = TopologyEvent(
        topology_id=topology.id, from_status=from_status, to_status=to_status,
        reason=reason, created_at=now,
    )
    session.add(record)
    session.flush()
    queue_change(session, (topology.id, from_status, to_status, reason))
    return record


def queue_change(session: Session, change: Change) -> None:
    """Announce `change` to the listeners once the session's transaction commits."""
    call_after_commit(session, lambda: _notify([change]))


def _notify(changes: list[Change]) -> None:
    for change in changes:
        for listener in list(_listeners):
            try:
                listener(*change)
            except Exception:
                log.exception("status listener %r failed for %s", listener, change)
