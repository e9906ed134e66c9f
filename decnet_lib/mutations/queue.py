"""The mutation queue: enqueue, atomic claims with leases, recovery, and final states.

A claim is one conditional UPDATE (pending -> applying, or an expired lease -> re-leased)
on the head of one topology's queue, committed by itself on an autocommit connection
(`db.autocommit_connection`): one round trip. Racing reconcilers get exactly one winner
each; losers see zero rows. Only the head of a topology's queue is ever claimed, so a
topology's mutations apply one at a time, in FIFO order. Finishing a claim (applied or
failed) happens in the transaction that applies the op.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    TextClause,
    and_,
    bindparam,
    func,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.orm import Session

from decnet_lib.db import Mutation, Topology, require_topology, utcnow
from decnet_lib.db.after_commit import call_after_commit
from decnet_lib.db.engine import is_autocommit
from decnet_lib.db.models import UtcDateTime
from decnet_lib.db.status import SERVING_STATUSES
from decnet_lib.errors import Refused
from decnet_lib.events import mutation_topic, publish
from decnet_lib.mutations.payloads import parse_payload
from decnet_lib.settings import get_settings

OPEN_STATES = ("pending", "applying")


def lease_seconds() -> float:
    """Claim lease length, from DECNET_MUTATION_LEASE_SECONDS (default 60)."""
    return get_settings().mutation_lease_seconds


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


Executor = Connection | Session
"""Reads run on a session or on a plain (autocommit) connection alike."""


def _dialect(executor: Executor) -> str:
    bind = executor if isinstance(executor, Connection) else executor.get_bind()
    return bind.dialect.name


def announce(session: Session, topology_id: str, state: str, body: dict[str, Any]) -> None:
    """Publish `topology.<id>.mutation.<state>` once this transaction commits."""
    topic = mutation_topic(topology_id, state)
    call_after_commit(session, lambda: publish(topic, body))


def enqueue_mutation(session: Session, topology_name: str, op: str, payload: Any) -> Mutation:
    """Queue one op for a live topology; a bad payload or a non-live topology is refused."""
    parse_payload(op, payload)
    topology = require_topology(session, topology_name)
    if topology.status not in SERVING_STATUSES:
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


def has_pending_topology_mutation(executor: Executor, now: datetime | None = None) -> bool:
    """The watch loop's cheap guard: any pending mutation, or an expired claim to recover.

    Both probes seek the (state, topology_id) index by its leading column.
    """
    dialect = _dialect(executor)
    if executor.execute(guard_statement(dialect)).first() is not None:
        return True
    expired = expired_claim_statement(dialect)
    return executor.execute(expired, {"now": now or utcnow()}).first() is not None


@dataclass(frozen=True, slots=True)
class Head:
    """The oldest open mutation of a topology: the only one that may be claimed."""

    topology_id: str
    mutation_id: int
    state: str
    lease_until: datetime | None


def heads_with_work(
    executor: Executor, now: datetime | None = None, sample: int | None = None,
    exclude: Collection[str] = (),
) -> list[Head]:
    """The claimable heads of live topologies (pending, or held under an expired lease).
    Topologies whose head is held under a valid lease, or in `exclude`, are left out.

    Oldest first; with `sample`, at most that many in a random order instead, so racing
    reconcilers spread over different topologies rather than chase the same heads.
    """
    now = now or utcnow()
    oldest = (
        select(Mutation.topology_id, func.min(Mutation.id).label("head"))
        .where(Mutation.state.in_(OPEN_STATES))
        .group_by(Mutation.topology_id)
        .subquery()
    )
    rows = (
        select(Mutation.topology_id, Mutation.id, Mutation.state, Mutation.lease_until)
        .join(oldest, Mutation.id == oldest.c.head)
        .join(Topology, Topology.id == Mutation.topology_id)
        .where(
            or_(Mutation.state == "pending",
                and_(Mutation.state == "applying", Mutation.lease_until < now)),
            Topology.status.in_(SERVING_STATUSES),
            Mutation.topology_id.not_in(list(exclude)) if exclude else true(),
        )
    )
    if sample is None:
        rows = rows.order_by(Mutation.id)
    else:
        shuffle = func.random() if _dialect(executor) == "sqlite" else func.rand()
        rows = rows.order_by(shuffle).limit(sample)
    return [Head(*row) for row in executor.execute(rows)]


def topologies_with_work(executor: Executor, now: datetime | None = None) -> list[str]:
    """Ids of live topologies with something to claim, oldest work first."""
    return [head.topology_id for head in heads_with_work(executor, now)]


_MUTATIONS = Mutation.__table__
# Built once: the claim runs on every reconciler tick, so no per-call statement building.
_HEAD = (
    select(_MUTATIONS.c.id, _MUTATIONS.c.state, _MUTATIONS.c.lease_until)
    .where(_MUTATIONS.c.state.in_(OPEN_STATES),
           _MUTATIONS.c.topology_id == bindparam("p_topology"))
    .order_by(_MUTATIONS.c.id)
    .limit(1)
)
_CLAIM_VALUES = {
    "state": "applying",
    "claimed_by": bindparam("p_token"),
    "claimed_at": bindparam("p_now"),
    "lease_until": bindparam("p_lease_until"),
    "attempts": _MUTATIONS.c.attempts + 1,
}
_CLAIM_PENDING = (
    update(_MUTATIONS)
    .where(_MUTATIONS.c.id == bindparam("p_id"), _MUTATIONS.c.state == "pending")
    .values(**_CLAIM_VALUES)
)
_CLAIM_EXPIRED = (
    update(_MUTATIONS)
    .where(_MUTATIONS.c.id == bindparam("p_id"), _MUTATIONS.c.state == "applying",
           _MUTATIONS.c.lease_until < bindparam("p_now"))
    .values(**_CLAIM_VALUES)
)
_FINISH = (
    update(_MUTATIONS)
    .where(_MUTATIONS.c.id == bindparam("p_id"), _MUTATIONS.c.state == "applying",
           _MUTATIONS.c.claimed_by == bindparam("p_token"))
    .values(state=bindparam("p_state"), error=bindparam("p_error"),
            finished_at=bindparam("p_now"), lease_until=None)
)


def claim_next_mutation(
    claims: Connection, topology_id: str, claimer: str | None = None,
    lease: float | None = None, now: datetime | None = None,
) -> Claim | None:
    """Claim the head of one topology's queue; None when there is nothing to win.

    `claims` is an autocommit connection. The head is the oldest open (pending or
    applying) mutation. A head held under a valid lease means another reconciler is on
    it; an expired lease is taken over.
    """
    row = claims.execute(_HEAD, {"p_topology": topology_id}).first()
    if row is None:
        return None
    return claim_head(claims, Head(topology_id, *row), claimer, lease, now)


def claim_head(
    claims: Connection, head: Head, claimer: str | None = None,
    lease: float | None = None, now: datetime | None = None,
) -> Claim | None:
    """Claim a known head with one conditional UPDATE that commits by itself.

    Of racing reconcilers exactly one sees the row change; the others get None, as does
    anyone holding a stale head (already claimed or finished meanwhile).
    """
    if not is_autocommit(claims):
        raise ValueError("claims need an autocommit connection (db.autocommit_connection)")
    now = now or utcnow()
    if head.state == "applying" and head.lease_until is not None and head.lease_until >= now:
        return None
    token = f"{claimer or worker_id()}:{uuid.uuid4().hex[:12]}"
    lease_until = now + timedelta(seconds=lease if lease is not None else lease_seconds())
    result = claims.execute(
        _CLAIM_PENDING if head.state == "pending" else _CLAIM_EXPIRED,
        {"p_id": head.mutation_id, "p_token": token, "p_now": now,
         "p_lease_until": lease_until},
    )
    if result.rowcount != 1:
        return None
    publish(mutation_topic(head.topology_id, "applying"), {"mutation_id": head.mutation_id})
    return Claim(head.mutation_id, head.topology_id, token, recovered=head.state == "applying")


def finish_mutation(
    session: Session, claim: Claim, state: str, error: dict[str, Any] | None = None
) -> bool:
    """Mark a claimed mutation applied or failed, only while the claim is still ours.

    Runs in the caller's transaction; False means the claim was lost (lease expired and
    taken over), and the caller must roll back its work.
    """
    result = session.connection().execute(_FINISH, {
        "p_id": claim.mutation_id, "p_token": claim.token, "p_state": state,
        "p_error": error, "p_now": utcnow(),
    })
    if result.rowcount != 1:
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
