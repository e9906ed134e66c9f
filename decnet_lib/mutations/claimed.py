"""Apply one claimed mutation in one transaction: op, invariants, save, final state."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.orm import Session

from decnet_lib.db import Mutation, load_resolved, lock_topology, neighbours, save_resolved
from decnet_lib.db.status import SERVING_STATUSES
from decnet_lib.errors import DecnetError, InvalidTopology
from decnet_lib.mutations.queue import Claim, finish_mutation
from decnet_lib.mutations.transform import apply_op

log = logging.getLogger(__name__)

OutcomeState = Literal["applied", "failed", "lost"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of a claimed mutation. `lost`: the lease expired and another took it."""

    mutation_id: int
    state: OutcomeState
    changed: bool = False
    error: dict[str, Any] | None = None


def error_record(exc: Exception) -> dict[str, Any]:
    """The `error` column of a failed mutation: code, message and validation issues."""
    if isinstance(exc, DecnetError):
        record: dict[str, Any] = {"code": exc.code, "message": exc.message}
        if isinstance(exc, InvalidTopology):
            record["issues"] = [issue.to_dict() for issue in exc.issues]
        return record
    return {"code": "INTERNAL", "message": f"{type(exc).__name__}: {exc}"}


def apply_claimed(session: Session, claim: Claim) -> Outcome:
    """Apply a claimed mutation and commit; a failing op marks it failed (nothing else)."""
    topology = lock_topology(session, claim.topology_id)
    mutation = session.get(Mutation, claim.mutation_id)
    if mutation is None or mutation.state != "applying" or mutation.claimed_by != claim.token:
        session.rollback()
        return Outcome(claim.mutation_id, "lost")
    op, payload = mutation.op, mutation.payload
    if topology.status not in SERVING_STATUSES:
        session.rollback()
        return _fail(session, claim, {"code": "NOT_LIVE", "message":
                                      f"topology is {topology.status}, not active or degraded"})
    try:
        current = load_resolved(session, topology)
        context = neighbours(session, exclude_id=topology.id, agent=topology.agent)
        result = apply_op(current, op, payload, validation_context=context)
        if result.changed:
            save_resolved(session, topology, result.topology)
    except Exception as exc:  # every failure is recorded on the mutation, never swallowed
        session.rollback()
        if not isinstance(exc, DecnetError):
            log.exception("mutation %s (%s) crashed", claim.mutation_id, op)
        return _fail(session, claim, error_record(exc))
    if not finish_mutation(session, claim, "applied"):
        session.rollback()
        return Outcome(claim.mutation_id, "lost")
    session.commit()
    return Outcome(claim.mutation_id, "applied", changed=result.changed)


def _fail(session: Session, claim: Claim, error: dict[str, Any]) -> Outcome:
    """Record the failure. The topology's status stays: a failed op changed nothing (its
    transaction rolled back and nothing was pushed), so the record still matches reality;
    only a push that leaves the target different degrades it (reconciler.push_topology)."""
    if not finish_mutation(session, claim, "failed", error):
        session.rollback()
        return Outcome(claim.mutation_id, "lost")
    session.commit()
    return Outcome(claim.mutation_id, "failed", error=error)
