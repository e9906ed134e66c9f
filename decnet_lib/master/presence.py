"""Create or replace a stored topology from a document (the `present` use case).

`evaluate` compares the document with what is stored (read only); `ensure_present` writes
the outcome in one transaction. An unchanged document (same canonical hash) changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from decnet_lib.db import (
    load_resolved,
    lock_topology,
    new_session,
    require_topology,
    save_resolved,
)
from decnet_lib.db.status import BUSY_STATUSES, SERVING_STATUSES
from decnet_lib.errors import AlreadyExists, DecnetError, DefinitionChanged, Refused
from decnet_lib.master.database import read_session
from decnet_lib.master.documents import as_document, check_document, desired_topology
from decnet_lib.master.topologies import create_from_data, load_stored
from decnet_lib.topology.resolved import ResolvedTopology

Action = Literal["none", "create", "replace"]


@dataclass
class Presence:
    """How the stored topology compares with the document."""

    name: str
    stored: ResolvedTopology | None
    desired: ResolvedTopology
    action: Action
    agent: str | None = None
    warnings: list[dict[str, Any]] = field(default_factory=list)


def _different_message(name: str, stored: ResolvedTopology, desired: ResolvedTopology) -> str:
    return (
        f"topology {name} is stored with a different definition (canonical hash "
        f"{stored.hash[:12]} stored, {desired.hash[:12]} wanted). Change a live maze with "
        "decnet.mazenet.decnet_mutation, or remove it first (state=absent: teardown and "
        "delete), or set replace=true to replace the stored definition"
    )


def evaluate(session: Session | None, data: Any, replace: bool = False) -> Presence:
    """Validate the document and compare it with what is stored (read only).

    Raises InvalidTopology, or DefinitionChanged (with both hashes and the diff) when the
    stored definition differs and `replace` is not set.
    """
    doc, warnings = check_document(session, data)
    row, stored = load_stored(session, doc.name)
    desired = desired_topology(data, doc, stored)
    agent = row.agent if row is not None else None
    issues = [issue.to_dict() for issue in warnings]
    if stored is None:
        return Presence(doc.name, None, desired, "create", agent, issues)
    if desired.hash == stored.hash:
        return Presence(doc.name, stored, stored, "none", agent, issues)
    if not replace:
        raise DefinitionChanged(_different_message(doc.name, stored, desired),
                                stored_hash=stored.hash, wanted_hash=desired.hash,
                                diff={"before": as_document(stored),
                                      "after": as_document(desired)})
    return Presence(doc.name, stored, desired, "replace", agent, issues)


def check_replaceable(name: str, status: str, live_ok: bool = False) -> None:
    """Refuse replacing a definition while a deploy or teardown runs, or (unless
    `live_ok`) while the topology is deployed."""
    if status in BUSY_STATUSES or (status in SERVING_STATUSES and not live_ok):
        raise Refused(
            f"topology {name} is {status}: its definition can only be replaced while it is "
            "not deployed (use state=deployed with replace=true to update it in place, "
            "decnet.mazenet.decnet_mutation, or state=torn_down first)")


def _persist(engine: Engine, presence: Presence, data: Any, live_ok: bool) -> ResolvedTopology:
    """Create or replace the stored topology in one transaction; the stored form."""
    session = new_session(engine)
    try:
        if presence.action == "create":
            resolved, _ = create_from_data(session, data)
        else:
            row = require_topology(session, presence.name)
            if presence.action == "replace":
                row = lock_topology(session, row.id)
                check_replaceable(presence.name, row.status, live_ok)
                save_resolved(session, row, presence.desired)
            resolved = load_resolved(session, row)
        session.commit()
        return resolved
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def ensure_present(engine: Engine, data: Any, replace: bool, live_ok: bool
                   ) -> tuple[Presence, ResolvedTopology]:
    """Evaluate then persist; a concurrent create of the same name is evaluated again."""
    for _attempt in range(2):
        with read_session(engine) as session:
            presence = evaluate(session, data, replace)
        try:
            return presence, _persist(engine, presence, data, live_ok)
        except AlreadyExists:
            continue
    raise DecnetError(f"topology {presence.name} keeps changing under us; try again",
                      code="CONFLICT")
