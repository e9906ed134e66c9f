"""Queue changes to a live topology, see whether they are already there, wait for them.

`preview` applies the op (in memory) to the stored topology with the still-open mutations
of its queue applied on top: when that changes nothing, the effect is already there (or
already queued) and `enqueue_unless_there` queues nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from decnet_lib.db import (
    Mutation,
    get_topology,
    load_resolved,
    neighbours,
    session_scope,
)
from decnet_lib.db.status import SERVING_STATUSES
from decnet_lib.errors import DecnetError, NotFound
from decnet_lib.master.database import read_session
from decnet_lib.master.lifecycle import push_hook
from decnet_lib.master.targets import TargetFactory, target_for
from decnet_lib.master.vocabulary import MUTATION_STATES, OPS
from decnet_lib.mutations.payloads import parse_payload
from decnet_lib.mutations.queue import OPEN_STATES, enqueue_mutation, list_mutations
from decnet_lib.mutations.reconciler import wait_for_mutation
from decnet_lib.mutations.transform import Applied, already_there, apply_op
from decnet_lib.mutations.view import mutation_view
from decnet_lib.topology.resolved import ResolvedTopology
from decnet_lib.validation.context import ValidationContext

__all__ = ["MUTATION_STATES", "OPS", "Finished", "NotLive", "OpWouldFail", "Preview",
           "check_payload", "enqueue", "enqueue_unless_there", "list_in", "list_views",
           "preview", "topology_status", "wait"]


class NotLive(DecnetError):
    """Mutations apply to active or degraded topologies only; `status` is the current one."""

    code = "REFUSED"


class OpWouldFail(DecnetError):
    """The op, applied to the topology and its queue, would fail; `cause` says why."""

    def __init__(self, cause: DecnetError) -> None:
        super().__init__(cause.message, cause.code)
        self.cause = cause


@dataclass(frozen=True)
class Preview:
    """The topology now, once its open mutations apply, and once this op applies too."""

    current: ResolvedTopology
    projected: ResolvedTopology
    after: ResolvedTopology
    changed: bool
    queued: int
    last_open: int | None


def check_payload(op: str, payload: Any) -> None:
    """Refuse an unknown op or a malformed payload (BadPayload)."""
    parse_payload(op, payload)


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


def preview(engine: Engine, name: str, op: str, payload: dict[str, Any]) -> Preview:
    """What `op` would do to the live topology `name` (read only).

    Raises NotFound, NotLive or OpWouldFail.
    """
    with read_session(engine) as session:
        assert session is not None
        row = get_topology(session, name)
        if row is None:
            raise NotFound(f"no topology named {name!r} is stored")
        if row.status not in SERVING_STATUSES:
            raise NotLive(f"topology {name} is {row.status}: mutations apply to active or "
                          "degraded topologies only (deploy it first)", status=row.status)
        current = load_resolved(session, row)
        context = neighbours(session, exclude_id=row.id, agent=row.agent)
        queued = [m for m in list_mutations(session, name) if m.state in OPEN_STATES]
        projected = _project(current, queued, context)
        try:
            applied = apply_op(projected, op, payload, validation_context=context)
        except DecnetError as exc:
            if not already_there(op, exc):
                raise OpWouldFail(exc) from None
            applied = Applied(projected, False)  # e.g. removing a decky that is gone
        last_open = queued[-1].id if queued else None
    return Preview(current, projected, applied.topology, applied.changed, len(queued),
                   last_open)


def enqueue(engine: Engine, name: str, op: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Queue one op for the live topology `name`; the mutation's view."""
    with session_scope(engine) as session:
        mutation = enqueue_mutation(session, name, op, payload)
        session.flush()
        return mutation_view(mutation)


def enqueue_unless_there(engine: Engine, name: str, op: str, payload: dict[str, Any]
                         ) -> tuple[Preview, dict[str, Any] | None]:
    """Queue `op` unless its effect is already there (or queued): the preview and the
    queued mutation's view (None when nothing was queued)."""
    found = preview(engine, name, op, payload)
    if not found.changed:
        return found, None
    return found, enqueue(engine, name, op, payload)


@dataclass(frozen=True)
class Finished:
    """A finished mutation's view, and why its target did not follow (None: it did)."""

    view: dict[str, Any]
    push_error: str | None = None


def wait(engine: Engine, mutation_id: int, timeout: float,
         targets: TargetFactory = target_for) -> Finished:
    """Drain the mutation's topology in-process (the same atomic claims as the reconcilers,
    pushing each new form to the target) until it is applied or failed.

    An applied mutation whose push failed comes back with `push_error`: the record
    changed, the target did not follow (the topology is degraded). Raises TIMEOUT (with
    `mutation_id`) when it is neither applied nor failed after `timeout` seconds.
    """
    try:
        waited = wait_for_mutation(engine, mutation_id, push_hook(targets), timeout)
    except TimeoutError as exc:
        raise DecnetError(str(exc), code="TIMEOUT", mutation_id=mutation_id) from None
    return Finished(mutation_view(waited.mutation), waited.push_error)


def topology_status(engine: Engine, name: str) -> str:
    """The stored status of `name` ("absent" when it is not stored)."""
    with read_session(engine) as session:
        row = get_topology(session, name) if session is not None else None
        return row.status if row is not None else "absent"


def list_views(session: Session, name: str, state: str | None = None) -> list[dict[str, Any]]:
    """A topology's mutations (views), oldest first, optionally in one state."""
    return [mutation_view(m) for m in list_mutations(session, name, state)]


def list_in(engine: Engine, name: str, state: str | None = None) -> list[dict[str, Any]]:
    """`list_views` in a read-only session on `engine`."""
    with read_session(engine) as session:
        assert session is not None
        return list_views(session, name, state)
