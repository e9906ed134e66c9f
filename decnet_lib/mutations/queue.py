"""The mutation queue: enqueue, atomic claims with leases, recovery, and final states.

A claim is one conditional UPDATE (pending -> applying, or an expired lease -> re-leased)
on the head of one topology's queue; racing reconcilers get exactly one winner each, losers
see zero rows. Only the head of a topology's queue is ever claimed, so a topology's
mutations apply one at a time, in FIFO order.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import TextClause, bindparam, func, select, text, update
from sqlalchemy.orm import Session

from decnet_lib.db import Mutation, Topology, require_topology, utcnow
from decnet_lib.db.after_commit import call_after_commit
from decnet_lib.db.models import UtcDateTime
from decnet_lib.errors import Refused
from decnet_lib.events import mutation_topic, publish
from decnet_lib.mutations.payloads import parse_payload

ENQUEUE_STATUSES = frozenset({"active", "degraded"})
OPEN_STATES = ("pending", "applying")
DEFAULT_LEASE_SECONDS = 60.0


def lease_seconds() -> float:
    """Claim lease length, from DECNET_MUTATION_LEASE_SECONDS (default 60)."""
    raw = os.environ.get("DECNET_MUTATION_LEASE_SECONDS", "")
    try:
        return max(float(raw), 0.1) if raw else DEFAULT_LEASE_SECONDS
    except ValueError:
        return DEFAULT_LEASE_SECONDS


def worker_id() -> str:
    """An identity for this reconciler process: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True, slots=True)
class Claim:
    """A won claim: the mutation id and the token that proves ownership."""

    mutation_id: int
    topology_id: str
    token: str
    recovered: bool = False


def announce(session: Session, topology_id: str, state: str, body: dict[str, Any]) -> None:
    """Publish `topology.<id>.mutation.<state>` once this transaction commits."""
    topic = mutation_topic(topology_id, state)
    call_after_commit(session, lambda: publish(topic, body))


def enqueue_mutation(session: Session, topology_name: str, op: str, payload: Any) -> Mutation:
    """Queue one op for a live topology; a bad payload or a non-live topology is refused."""
    parse_payload(op, payload)
    topology = require_topology(session, topology_name)
    if topology.status not in ENQUEUE_STATUSES:
        raise Refused(
            f"topology {topology.name} is {topology.status}: mutations are only queued while "
            "it is active or degraded"
        )
    mutation = Mutation(topology_id=topology.id, op=op, payload=payload, state="pending")
    session.add(mutation)
    session.flush()
    announce(session, topology.id, "enqueued", {"mutation_id": mutation.id, "op": op})
    return mutation


INDEX_NAME = "ix_mutations_state_topology"


def _indexed_table(dialect: str) -> str:
    """`mutations` pinned to the (state, topology_id) index.

    Planners with ANALYZE statistics (nearly every row finished) would otherwise scan the
    table for the rare open states.
    """
    if dialect == "sqlite":
        return f"mutations INDEXED BY {INDEX_NAME}"
    return f"mutations FORCE INDEX ({INDEX_NAME})"


def guard_statement(dialect: str) -> TextClause:
    """Is any mutation pending? (EXPLAIN shows it in tests and benches)."""
    return text(f"SELECT id FROM {_indexed_table(dialect)} WHERE state = 'pending' LIMIT 1")


def expired_claim_statement(dialect: str) -> TextClause:
    """Is any claim's lease expired (bind `now`)?"""
    return text(
        f"SELECT id FROM {_indexed_table(dialect)} "
        "WHERE state = 'applying' AND lease_until < :now LIMIT 1"
    ).bindparams(bindparam("now", type_=UtcDateTime()))


def has_pending_topology_mutation(session: Session, now: datetime | None = None) -> bool:
    """The watch loop's cheap guard: any pending mutation, or an expired claim to recover.

    Both probes seek the (state, topology_id) index by its leading column.
    """
    dialect = session.get_bind().dialect.name
    if session.execute(guard_statement(dialect)).first() is not None:
        return True
    expired = expired_claim_statement(dialect)
    return session.execute(expired, {"now": now or utcnow()}).first() is not None


def topologies_with_work(session: Session) -> list[str]:
    """Ids of live topologies with open mutations, oldest work first."""
    oldest = func.min(Mutation.id)
    rows = session.execute(
        select(Mutation.topology_id, oldest)
        .join(Topology, Topology.id == Mutation.topology_id)
        .where(Mutation.state.in_(OPEN_STATES), Topology.status.in_(ENQUEUE_STATUSES))
        .group_by(Mutation.topology_id)
        .order_by(oldest)
    )
    return [row[0] for row in rows]


def claim_next_mutation(
    session: Session, topology_id: str, claimer: str | None = None,
    lease: float | None = None, now: datetime | None = None,
) -> Claim | None:
    """Claim the head of one topology's queue and commit; None when there is nothing to win.

    The head is the oldest open (pending or applying) mutation. A head held under a valid
    lease means another reconciler is on it; an expired lease is taken over.
    """
    now = now or utcnow()
    head = session.execute(
        select(Mutation.id, Mutation.state, Mutation.lease_until)
        .where(Mutation.state.in_(OPEN_STATES), Mutation.topology_id == topology_id)
        .order_by(Mutation.id)
        .limit(1)
    ).first()
    if head is None:
        session.rollback()
        return None
    mutation_id, state, lease_until = head
    if state == "applying" and lease_until is not None and lease_until >= now:
        session.rollback()
        return None
    token = f"{claimer or worker_id()}:{uuid.uuid4().hex[:12]}"
    condition = (
        (Mutation.state == "pending")
        if state == "pending"
        else (Mutation.state == "applying") & (Mutation.lease_until < now)
    )
    result = session.execute(
        update(Mutation)
        .where(Mutation.id == mutation_id, condition)
        .values(
            state="applying", claimed_by=token, claimed_at=now,
            lease_until=now + timedelta(seconds=lease if lease is not None else lease_seconds()),
            attempts=Mutation.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        return None
    announce(session, topology_id, "applying", {"mutation_id": mutation_id})
    session.commit()
    return Claim(mutation_id, topology_id, token, recovered=state == "applying")


def finish_mutation(
    session: Session, claim: Claim, state: str, error: dict[str, Any] | None = None
) -> bool:
    """Mark a claimed mutation applied or failed, only while the claim is still ours.

    Runs in the caller's transaction; False means the claim was lost (lease expired and
    taken over), and the caller must roll back its work.
    """
    result = session.execute(
        update(Mutation)
        .where(Mutation.id == claim.mutation_id, Mutation.state == "applying",
               Mutation.claimed_by == claim.token)
        .values(state=state, error=error, finished_at=utcnow(), lease_until=None)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    body: dict[str, Any] = {"mutation_id": claim.mutation_id}
    if error:
        body["error"] = error
    announce(session, claim.topology_id, state, body)
    return True


def list_mutations(
    session: Session, topology_name: str, state: str | None = None
) -> list[Mutation]:
    """A topology's mutations, oldest first, optionally in one state."""
    topology = require_topology(session, topology_name)
    query = select(Mutation).where(Mutation.topology_id == topology.id)
    if state:
        query = query.where(Mutation.state == state)
    return list(session.scalars(query.order_by(Mutation.id)))
