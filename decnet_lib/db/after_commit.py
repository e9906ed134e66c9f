"""Run callbacks once the outermost transaction commits; drop them on rollback.

Savepoint-aware: a callback queued inside a SAVEPOINT that is rolled back is dropped, one
queued inside a released SAVEPOINT waits for the enclosing transaction. A callback that
raises is logged and skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

log = logging.getLogger(__name__)

Callback = Callable[[], object]
_PENDING = "decnet.after_commit.pending"  # session.info: [(owner transaction or None, fn)]
_READY = "decnet.after_commit.ready"  # session.info: callbacks whose root committed


def call_after_commit(session: Session, callback: Callback) -> None:
    """Call `callback()` after the session's outermost transaction commits."""
    owner = session.get_nested_transaction()
    session.info.setdefault(_PENDING, []).append((owner, callback))


def _run(callbacks: list[Callback]) -> None:
    for callback in callbacks:
        try:
            callback()
        except Exception:
            log.exception("after-commit callback %r failed", callback)


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
        session.info.setdefault(_READY, []).extend(callback for _, callback in pending)
        pending.clear()
        return
    # a SAVEPOINT was released: its callbacks now belong to the enclosing transaction
    parent = nested.parent
    while parent is not None and not parent.nested:
        parent = parent.parent
    session.info[_PENDING] = [
        (parent if owner is nested else owner, callback) for owner, callback in pending
    ]


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, previous: SessionTransaction) -> None:
    pending = session.info.get(_PENDING)
    if pending:
        session.info[_PENDING] = [
            (owner, callback) for owner, callback in pending
            if previous.nested and not _within(owner, previous)
        ]


@event.listens_for(Session, "after_transaction_end")
def _after_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is not None:
        return
    session.info.pop(_PENDING, None)  # the root ended without committing these
    ready = session.info.pop(_READY, None)
    if ready:
        _run(ready)
