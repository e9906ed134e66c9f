"""Create, list, inspect and delete stored topologies (the master's source of truth)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from decnet_lib.db import (
    child_counts,
    create_topology,
    delete_topology,
    get_topology,
    list_topologies,
    load_resolved,
    neighbours,
    require_topology,
)
from decnet_lib.db.models import Topology
from decnet_lib.errors import AlreadyExists
from decnet_lib.issues import Issue
from decnet_lib.master.database import write_session
from decnet_lib.master.documents import check_data, document_name, invalid
from decnet_lib.master.targets import LOCAL, TargetFactory, target_for
from decnet_lib.topology.render import counted_summary
from decnet_lib.topology.resolve import resolve
from decnet_lib.topology.resolved import ResolvedTopology
from decnet_lib.validation.context import EMPTY_CONTEXT, ValidationContext

__all__ = ["check_data", "create_from_data", "create_in", "delete", "delete_in", "load_stored",
           "neighbour_context", "show", "summaries"]


def create_from_data(
    session: Session, data: Any, agent: str | None = None
) -> tuple[ResolvedTopology, list[Issue]]:
    """Validate, resolve and store a new topology in the caller's transaction.

    Raises InvalidTopology (with every issue) or AlreadyExists; writes nothing then.
    Returns the stored topology and the warnings.
    """
    name = document_name(data)
    _refuse_existing(session, name)
    doc, issues = check_data(session, data)
    if doc is None or any(issue.severity == "error" for issue in issues):
        # one created meanwhile under this name (its subnets now clash with ours) is a 409
        _refuse_existing(session, name)
        raise invalid(issues)
    _refuse_existing(session, doc.name)
    row = create_topology(session, resolve(doc), agent=agent)
    return load_resolved(session, row), issues


def _refuse_existing(session: Session, name: str | None) -> None:
    if name is not None and get_topology(session, name) is not None:
        raise AlreadyExists(f"a topology named {name!r} already exists")


def show(session: Session, name: str) -> ResolvedTopology:
    """The stored, resolved topology called `name` (NotFound otherwise)."""
    return load_resolved(session, require_topology(session, name))


def load_stored(session: Session | None, name: str
                ) -> tuple[Topology | None, ResolvedTopology | None]:
    """The row and the resolved form of `name` ((None, None) when absent or no database)."""
    if session is None:
        return None, None
    row = get_topology(session, name)
    return (row, load_resolved(session, row)) if row is not None else (None, None)


def summaries(session: Session, with_target: bool = False) -> list[dict[str, Any]]:
    """One summary per stored topology; `with_target` adds its target and last update.

    The LAN and decky counts are counted in SQL: no topology's resolved form is rebuilt (a
    list of many topologies would otherwise rebuild those the cache cannot hold, each time).
    """
    lans, deckies = child_counts(session)
    rows = []
    for row in list_topologies(session):
        item = counted_summary(row.id, row.name, row.status, row.hash,
                               lans=lans.get(row.id, 0), deckies=deckies.get(row.id, 0))
        if with_target:
            item.update(target=row.agent or LOCAL,
                        updated_at=row.updated_at.isoformat() if row.updated_at else None)
        rows.append(item)
    return rows


def neighbour_context(session: Session | None) -> ValidationContext:
    """The live topologies a new document must not collide with (none without a DB)."""
    return neighbours(session) if session is not None else EMPTY_CONTEXT


def delete(session: Session, name: str, force: bool = False,
           targets: TargetFactory = target_for) -> str:
    """Delete a topology and every child row; refused while any of its containers runs
    (asked of its target: this machine's Docker or its agent). Returns its id.

    The target is asked with no transaction open (an agent may take long to answer, and
    on SQLite an open transaction could block the reconciler or go stale meanwhile); the
    delete itself is one short transaction that checks the status again.
    """
    row = require_topology(session, name)
    topology_id, target = row.id, targets(row.agent)
    session.rollback()
    running = list(target.running(topology_id))

    def still_running(current_id: str) -> list[str]:
        # re-created under the same name meanwhile: ask about that one
        return running if current_id == topology_id else list(target.running(current_id))

    return delete_topology(session, name, force=force, running_containers=still_running)


def create_in(engine: Engine, data: Any) -> tuple[ResolvedTopology, list[Issue]]:
    """`create_from_data` in its own transaction on `engine`."""
    with write_session(engine) as session:
        return create_from_data(session, data)


def delete_in(engine: Engine, name: str, force: bool = False,
              targets: TargetFactory = target_for) -> str:
    """`delete` in its own transaction on `engine`."""
    with write_session(engine) as session:
        return delete(session, name, force=force, targets=targets)
