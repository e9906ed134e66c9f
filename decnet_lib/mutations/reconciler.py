"""The reconciler: drain live topologies' queues, push new desired state, watch for work."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from decnet_lib.db import (
    Mutation,
    Topology,
    autocommit_connection,
    load_resolved,
    lock_topology,
    new_session,
    pinned_session,
)
from decnet_lib.db.status import settle
from decnet_lib.errors import DecnetError
from decnet_lib.events import publish, worker_health_topic
from decnet_lib.mutations.claimed import Outcome, apply_claimed
from decnet_lib.mutations.queue import (
    Claim,
    claim_head,
    claim_next_mutation,
    has_pending_topology_mutation,
    heads_with_work,
    worker_id,
)
from decnet_lib.topology.resolved import ResolvedTopology

log = logging.getLogger(__name__)

PushHook = Callable[[ResolvedTopology, str | None], bool]
"""push(resolved, agent) -> True when the target now matches (heals a degraded topology)."""


@dataclass(slots=True)
class DrainReport:
    """What one pass over one topology's queue did."""

    topology_id: str
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(o.state == "applied" and o.changed for o in self.outcomes)

    @property
    def failed(self) -> bool:
        return any(o.state == "failed" for o in self.outcomes)


def drain_topology(
    session: Session, claims: Connection, topology_id: str, claimer: str | None = None,
    stop_after: int | None = None, first: Claim | None = None,
) -> DrainReport:
    """Claim (on the autocommit `claims`) and apply (in `session`) one topology's
    mutations in FIFO order until none is left to win.

    Starts with `first` when the caller already won the head. Stops at the first failure
    (the topology is then degraded) or after `stop_after` mutation id has been handled.
    `session` must have no transaction open between mutations (each apply ends its own).
    """
    report = DrainReport(topology_id)
    claimer = claimer or worker_id()
    claim = first or claim_next_mutation(claims, topology_id, claimer)
    while claim is not None:
        outcome = apply_claimed(session, claim)
        report.outcomes.append(outcome)
        if outcome.state == "failed" or claim.mutation_id == stop_after:
            break
        claim = claim_next_mutation(claims, topology_id, claimer)
    return report


def push_topology(session: Session, topology_id: str, push: PushHook) -> str | None:
    """Send a topology's current resolved form to its target, then settle its status:
    degraded when the target does not match, active again (healed) when it does. Returns
    why the target does not match (None when it does)."""
    topology = session.get(Topology, topology_id)
    if topology is None:
        return None
    resolved, agent = load_resolved(session, topology), topology.agent
    session.rollback()
    try:
        ok = push(resolved, agent)
        reason = "the target matches the topology" if ok else "the target does not match"
    except DecnetError as exc:
        log.warning("push of %s failed: %s", resolved.name, exc.message)
        ok, reason = False, f"push failed: {exc.message}"
    topology = lock_topology(session, topology_id)
    if not ok:
        settle(session, topology, "degraded", reason)
    elif topology.status == "degraded":
        settle(session, topology, "active", reason)
    session.commit()
    return None if ok else reason


ROUND_SAMPLE = 128  # heads fetched at a time by a reconcile round


def reconcile_topologies(
    engine: Engine, push: PushHook | None = None, claimer: str | None = None
) -> list[DrainReport]:
    """One round: drain every live topology with pending work, then push what changed.

    Heads are taken in small random samples, each topology at most once per round, so
    racing reconcilers spread over different topologies.
    """
    reports = []
    claimer = claimer or worker_id()
    seen: set[str] = set()
    with autocommit_connection(engine) as claims, pinned_session(engine) as session:
        while heads := heads_with_work(claims, sample=ROUND_SAMPLE, exclude=seen):
            for head in heads:
                seen.add(head.topology_id)
                first = claim_head(claims, head, claimer)
                if first is None:
                    continue  # another reconciler won it
                report = drain_topology(session, claims, head.topology_id, claimer,
                                        first=first)
                reports.append(report)
                if push is not None and report.changed:
                    push_topology(session, head.topology_id, push)
    return reports


def pending_guard(engine: Engine) -> bool:
    """The cheap indexed question asked on every tick."""
    with new_session(engine) as session:
        return has_pending_topology_mutation(session)


def run_watch_loop(
    engine: Engine,
    interval: float = 2.0,
    push: PushHook | None = None,
    wake: threading.Event | None = None,
    stop: threading.Event | None = None,
    max_ticks: int | None = None,
    drift: Callable[[], object] | None = None,
    drift_interval: float = 30.0,
) -> int:
    """Tick until `stop` is set: reconcile only when the guard says there is work.

    Every `drift_interval` seconds `drift` (if given) compares live topologies with
    their targets. `wake` (set by the bus on `topology.*.mutation.enqueued`) ends the
    wait at once. A round that fails on the database (locked, connection lost) is logged
    and retried on the next tick. Returns the number of rounds that reconciled.
    """
    wake = wake or threading.Event()
    stop = stop or threading.Event()
    rounds = ticks = 0
    next_drift = time.monotonic()
    while not stop.is_set() and (max_ticks is None or ticks < max_ticks):
        ticks += 1
        publish(worker_health_topic("reconciler"),
                {"worker": worker_id(), "ticks": ticks, "rounds": rounds, "ts": time.time()})
        try:
            if pending_guard(engine):
                reconcile_topologies(engine, push)
                rounds += 1
            if drift is not None and time.monotonic() >= next_drift:
                next_drift = time.monotonic() + drift_interval
                drift()  # compare live topologies with what their targets hold
        except DecnetError as exc:
            log.warning("reconcile round failed: %s", exc.message)
        except SQLAlchemyError as exc:  # a lock timeout, a lost connection: try next tick
            log.warning("reconcile round failed: %s", " ".join(str(exc).split())[:300])
        if wake.wait(timeout=interval):
            wake.clear()
    return rounds


@dataclass(frozen=True, slots=True)
class Waited:
    """A finished mutation, and why pushing its topology failed (None: it did not)."""

    mutation: Mutation
    push_error: str | None = None


def wait_for_mutation(
    engine: Engine, mutation_id: int, push: PushHook | None = None, timeout: float = 60.0,
) -> Waited:
    """Drain the mutation's topology in-process until it is applied or failed, pushing
    what changed. An applied mutation whose push failed comes back with `push_error`:
    the record changed, the target did not follow (the topology is degraded).

    Uses the same atomic claims as every reconciler, so it is safe beside running ones;
    while another holds the head of the queue it polls. Raises TimeoutError.
    """
    push_error: str | None = None
    deadline = time.monotonic() + timeout
    with autocommit_connection(engine) as claims, new_session(engine) as session:
        while True:
            mutation = session.get(Mutation, mutation_id, populate_existing=True)
            if mutation is None:
                raise LookupError(f"mutation {mutation_id} does not exist")
            if mutation.state in ("applied", "failed"):
                return Waited(mutation, push_error)
            topology_id = mutation.topology_id
            session.rollback()
            report = drain_topology(session, claims, topology_id, stop_after=mutation_id)
            if push is not None and report.changed:
                push_error = push_topology(session, topology_id, push)
            if not report.outcomes:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"mutation {mutation_id} did not finish in {timeout}s")
                time.sleep(0.05)
