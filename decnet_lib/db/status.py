"""The topology status state machine: checked moves, recorded events, post-commit listeners.

Listeners `(topology_id, from_status, to_status, reason)` run only once the transaction that
made the change has committed (never after a rollback); one that raises is logged and skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import event, update
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.orm.attributes import set_committed_value

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
LIVE_STATUSES = frozenset(STATUSES) - {"torn_down"}

_listeners: list[StatusListener] = []
_PENDING = "decnet.status.pending"  # session.info: [(owner transaction or None, change)]
_READY = "decnet.status.ready"  # session.info: changes whose root transaction committed


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
    owner = session.get_nested_transaction()
    session.info.setdefault(_PENDING, []).append((owner, change))


def _notify(changes: list[Change]) -> None:
    for change in changes:
        for listener in list(_listeners):
            try:
                listener(*change)
            except Exception:
                log.exception("status listener %r failed for %s", listener, change)


def _within(owner: SessionTransaction | None, ended: SessionTransaction) -> bool:
    """Whether `owner` is `ended` or one of its descendants."""
    while owner is not None:
        if owner is ended:
            return True
        owner = owner.parent
    return False


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    pending = session.info.get(_PENDING)
    if not pending:
        return
    nested = session.get_nested_transaction()
    if nested is None:  # the root transaction committed: everything becomes ready
        session.info.setdefault(_READY, []).extend(change for _, change in pending)
        pending.clear()
        return
    # a SAVEPOINT was released: its changes now belong to the enclosing transaction
    parent = nested.parent
    while parent is not None and not parent.nested:
        parent = parent.parent
    session.info[_PENDING] = [
        (parent if owner is nested else owner, change) for owner, change in pending
    ]


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, previous: SessionTransaction) -> None:
    pending = session.info.get(_PENDING)
    if pending:
        session.info[_PENDING] = [
            (owner, change) for owner, change in pending
            if previous.nested and not _within(owner, previous)
        ]


@event.listens_for(Session, "after_transaction_end")
def _after_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is not None:
        return
    session.info.pop(_PENDING, None)  # the root ended without committing these
    ready = session.info.pop(_READY, None)
    if ready:
        _notify(ready)
