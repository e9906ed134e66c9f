"""Create, inspect and delete stored topologies (the master's source of truth)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from decnet_lib.db import (
    create_topology,
    delete_topology,
    get_topology,
    load_resolved,
    neighbours,
    require_topology,
)
from decnet_lib.errors import AlreadyExists, InvalidTopology
from decnet_lib.master.targets import TargetFactory, target_for
from decnet_lib.topology.document import TopologyDoc
from decnet_lib.topology.resolve import resolve
from decnet_lib.topology.resolved import ResolvedTopology
from decnet_lib.validation.issues import Issue, has_errors
from decnet_lib.validation.validate import validate_data


def check_data(session: Session | None, data: Any) -> tuple[TopologyDoc | None, list[Issue]]:
    """Validate decoded document data, against the other live topologies when a DB is given."""
    if session is None:
        return validate_data(data)
    name = data.get("name") if isinstance(data, dict) else None
    existing = get_topology(session, name) if isinstance(name, str) else None
    context = neighbours(session, exclude_id=existing.id if existing else None)
    return validate_data(data, context)


def create_from_data(
    session: Session, data: Any, agent: str | None = None
) -> tuple[ResolvedTopology, list[Issue]]:
    """Validate, resolve and store a new topology in the caller's transaction.

    Raises InvalidTopology (with every issue) or AlreadyExists; writes nothing then.
    Returns the stored topology and the warnings.
    """
    doc, issues = check_data(session, data)
    if doc is None or has_errors(issues):
        errors = [issue for issue in issues if issue.severity == "error"]
        raise InvalidTopology(
            f"topology is invalid: {len(errors)} error(s), first: {errors[0]}", issues
        )
    if get_topology(session, doc.name) is not None:
        raise AlreadyExists(f"a topology named {doc.name!r} already exists")
    row = create_topology(session, resolve(doc), agent=agent)
    return load_resolved(session, row), issues


def show(session: Session, name: str) -> ResolvedTopology:
    """The stored, resolved topology called `name` (NotFound otherwise)."""
    return load_resolved(session, require_topology(session, name))


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
