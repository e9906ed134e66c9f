"""Backends of `decnet.mazenet.decnet_topology`: present, deployed, torn_down and absent.

Every function returns a plain result dict `{changed, diff: {before, after}, ...}` and
raises AutomationError for anything the module must fail on. In check mode nothing is
written (no database file or table is created) and Docker is only read.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from decnet_lib.automation import targets as tg
from decnet_lib.automation.connection import Connection
from decnet_lib.automation.documents import (
    as_document,
    check_document,
    desired_topology,
    document_name,
    load_input,
)
from decnet_lib.automation.errors import AutomationError, from_decnet_error
from decnet_lib.db import (
    Topology,
    get_topology,
    load_resolved,
    new_session,
    save_resolved,
    session_scope,
)
from decnet_lib.errors import AlreadyExists, DecnetError
from decnet_lib.master import lifecycle, topologies
from decnet_lib.master.topologies import create_from_data
from decnet_lib.topology.render import summary
from decnet_lib.topology.resolved import ResolvedTopology

Action = Literal["none", "create", "replace"]
LIVE = frozenset({"active", "degraded"})
BUSY = frozenset({"deploying", "tearing_down"})
UNDEPLOYED = frozenset({"pending", "torn_down"})
PREDECESSOR_STATUSES = frozenset({"deploying", "active", "degraded", "failed", "tearing_down"})


@dataclass
class Presence:
    """How the stored topology compares with the document."""

    name: str
    stored: ResolvedTopology | None
    desired: ResolvedTopology
    action: Action
    agent: str | None = None
    warnings: list[dict[str, Any]] = field(default_factory=list)


# --- helpers -----------------------------------------------------------------------------


@contextmanager
def _session(engine: Engine | None) -> Iterator[Session | None]:
    if engine is None:
        yield None
        return
    session = new_session(engine)
    try:
        yield session
    finally:
        session.rollback()
        session.close()


def _load(session: Session | None, name: str) -> tuple[Topology | None, ResolvedTopology | None]:
    if session is None:
        return None, None
    row = get_topology(session, name)
    return (row, load_resolved(session, row)) if row is not None else (None, None)


def _view(topology: ResolvedTopology | None, **extra: Any) -> dict[str, Any]:
    """A diff side: the document (every IP pinned) plus the status and other facts."""
    if topology is None:
        return {}
    return {**as_document(topology), "status": topology.status, **extra}


def _result(changed: bool, before: dict[str, Any], after: dict[str, Any],
            topology: ResolvedTopology | None, **extra: Any) -> dict[str, Any]:
    result: dict[str, Any] = {
        "changed": changed,
        "diff": {"before": before, "after": after},
        "topology": topology.model_dump() if topology is not None else {},
        "summary": summary(topology) if topology is not None else {},
        "status": topology.status if topology is not None else "absent",
    }
    result.update(extra)
    return result


def _different_message(name: str, stored: ResolvedTopology, desired: ResolvedTopology) -> str:
    return (
        f"topology {name} is stored with a different definition (canonical hash "
        f"{stored.hash[:12]} stored, {desired.hash[:12]} wanted). Change a live maze with "
        "decnet.mazenet.decnet_mutation, or remove it first (state=absent: teardown and "
        "delete), or set replace=true to replace the stored definition"
    )


def evaluate(session: Session | None, data: Any, replace: bool = False) -> Presence:
    """Validate the document and compare it with what is stored (read only)."""
    doc, warnings = check_document(session, data)
    row, stored = _load(session, doc.name)
    desired = desired_topology(data, doc, stored)
    agent = row.agent if row is not None else None
    issues = [issue.to_dict() for issue in warnings]
    if stored is None:
        return Presence(doc.name, None, desired, "create", agent, issues)
    if desired.hash == stored.hash:
        return Presence(doc.name, stored, stored, "none", agent, issues)
    if not replace:
        raise AutomationError(_different_message(doc.name, stored, desired),
                              code="DEFINITION_CHANGED", stored_hash=stored.hash,
                              wanted_hash=desired.hash,
                              diff={"before": as_document(stored), "after": as_document(desired)})
    return Presence(doc.name, stored, desired, "replace", agent, issues)


def _replace_refused(name: str, status: str) -> None:
    raise AutomationError(
        f"topology {name} is {status}: its definition can only be replaced while it is not "
        "deployed (use state=deployed with replace=true to update it in place, "
        "decnet.mazenet.decnet_mutation, or state=torn_down first)", code="REFUSED")


def _persist(engine: Engine, presence: Presence, data: Any, live_ok: bool) -> ResolvedTopology:
    """Create or replace the stored topology in one transaction; the stored form."""
    session = new_session(engine)
    try:
        if presence.action == "create":
            resolved, _ = create_from_data(session, data)
        elif presence.action == "replace":
            row = session.execute(
                select(Topology).where(Topology.name == presence.name).with_for_update()
            ).scalar_one()
            if row.status in BUSY or (row.status in LIVE and not live_ok):
                _replace_refused(presence.name, row.status)
            save_resolved(session, row, presence.desired)
            resolved = load_resolved(session, row)
        else:
            row = get_topology(session, presence.name)
            assert row is not None
            resolved = load_resolved(session, row)
        session.commit()
        return resolved
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _ensure_present(engine: Engine, data: Any, replace: bool, live_ok: bool
                    ) -> tuple[Presence, ResolvedTopology]:
    """Evaluate then persist; a concurrent create of the same name is evaluated again."""
    for _attempt in range(2):
        with _session(engine) as session:
            presence = evaluate(session, data, replace)
        try:
            return presence, _persist(engine, presence, data, live_ok)
        except AlreadyExists:
            continue
    raise AutomationError(f"topology {presence.name} keeps changing under us; try again",
                          code="CONFLICT")


def _same_target(a: str | None, b: str | None) -> bool:
    if tg.is_local(a) and tg.is_local(b):
        return True
    return (a or "").rstrip("/") == (b or "").rstrip("/")


def predecessors(session: Session | None, target: str, name: str) -> list[str]:
    """Other topologies still (possibly) deployed on the same agent (none for local)."""
    if session is None or tg.is_local(target):
        return []
    rows = session.execute(
        select(Topology.name, Topology.agent)
        .where(Topology.name != name, Topology.status.in_(PREDECESSOR_STATUSES))
        .order_by(Topology.name)
    )
    return [row_name for row_name, agent in rows if _same_target(agent, target)]


def _wrap(call: Any, connection: Connection, *args: Any, **kwargs: Any) -> Any:
    """Run a backend with the connection's environment; library errors become ours."""
    try:
        with connection.environment():
            return call(connection, *args, **kwargs)
    except AutomationError:
        raise
    except DecnetError as exc:
        raise from_decnet_error(exc) from None


# --- state=present -------------------------------------------------------------------------


def topology_present(
    connection: Connection,
    spec: Mapping[str, Any] | None = None,
    src: str | None = None,
    replace: bool = False,
    check_mode: bool = False,
) -> dict[str, Any]:
    """Validate and store the topology; unchanged when stored with the same canonical hash.

    A stored topology with a different hash fails (suggesting mutations, or absent first)
    unless `replace`: then the stored definition is replaced in place (same id), which is
    only allowed while the topology is not deployed.
    """
    return _wrap(_present, connection, spec, src, replace, check_mode)


def _present(connection: Connection, spec: Mapping[str, Any] | None, src: str | None,
             replace: bool, check_mode: bool) -> dict[str, Any]:
    data = load_input(spec, src)
    with connection.environment(), connection.engine(check_mode) as engine:
        if check_mode or engine is None:
            with _session(engine) as session:
                presence = evaluate(session, data, replace)
            stored = presence.stored
            if presence.action == "replace" and stored is not None and (
                    stored.status in LIVE | BUSY):
                _replace_refused(presence.name, stored.status)
            after = presence.desired if presence.action != "none" else stored
            return _result(presence.action != "none", _view(stored), _view(after), after,
                           action=presence.action, validation_warnings=presence.warnings)
        presence, resolved = _ensure_present(engine, data, replace, live_ok=False)
        return _result(presence.action != "none", _view(presence.stored), _view(resolved),
                       resolved, action=presence.action, validation_warnings=presence.warnings)


# --- state=deployed ------------------------------------------------------------------------


def topology_deployed(
    connection: Connection,
    spec: Mapping[str, Any] | None = None,
    src: str | None = None,
    name: str | None = None,
    replace: bool = False,
    check_mode: bool = False,
) -> dict[str, Any]:
    """Store (as present) and deploy on the connection's target; wait until it runs.

    On an agent, a different topology still deployed there is torn down first (the
    predecessor rule); on this machine's Docker several topologies live side by side.
    An active topology whose target already matches is unchanged. Check mode: the plan.
    """
    return _wrap(_deployed, connection, spec, src, name, replace, check_mode)


def _existing(session: Session | None, name: str | None) -> Presence:
    if not name:
        raise AutomationError("give the topology as spec or src, or the name of a stored one",
                              code="USAGE")
    row, stored = _load(session, name)
    if stored is None or row is None:
        raise AutomationError(f"no topology named {name!r} is stored: give spec or src to "
                              "create it", code="NOT_FOUND")
    return Presence(name, stored, stored, "none", row.agent)


def _check_name(data: Any, name: str | None) -> None:
    claimed = document_name(data)
    if name and claimed and claimed != name:
        raise AutomationError(f"name {name!r} does not match the document's name {claimed!r}",
                              code="USAGE")


def _deployed(connection: Connection, spec: Mapping[str, Any] | None, src: str | None,
              name: str | None, replace: bool, check_mode: bool) -> dict[str, Any]:
    data = load_input(spec, src) if (spec is not None or src is not None) else None
    if data is not None:
        _check_name(data, name)
    target = connection.target
    with connection.environment(), connection.engine(check_mode) as engine:
        targets = connection.targets()
        with _session(engine) as session:
            presence = evaluate(session, data, replace) if data is not None else \
                _existing(session, name)
            before_predecessors = predecessors(session, target, presence.name)
        stored = presence.stored
        if stored is not None and presence.agent and not _same_target(presence.agent, target) \
                and stored.status not in UNDEPLOYED:
            raise AutomationError(
                f"topology {presence.name} is {stored.status} on {presence.agent}: tear it down "
                f"there first (state=torn_down) before deploying it on {target}",
                code="REFUSED")
        before = _view(stored, target=presence.agent or ("local" if stored else None)) \
            if stored else {}
        unchanged_definition = presence.action == "none" and stored is not None
        was_active_here = (unchanged_definition and stored is not None
                           and stored.status == "active" and _same_target(presence.agent, target)
                           and presence.agent is not None)
        if check_mode or engine is None:
            return _deployed_check(targets, target, presence, before, before_predecessors,
                                   was_active_here)
        # 1. tear down a different predecessor on the same agent
        torn = []
        for other in before_predecessors:
            outcome = lifecycle.teardown(engine, other, targets=targets)
            if outcome.status not in ("torn_down", "pending"):
                raise AutomationError(
                    f"cannot tear down the predecessor {other} on {target}: {outcome.message}",
                    code="TEARDOWN_FAILED", predecessor=outcome.to_dict())
            torn.append(other)
        # 2. persist
        if data is not None:
            presence, resolved = _ensure_present(engine, data, replace, live_ok=True)
        else:
            resolved = stored  # type: ignore[assignment]
        # 3. already running exactly this? then nothing to do
        if was_active_here and not torn:
            synced, evidence = tg.in_sync(targets, target, resolved)
            if synced:
                return _result(False, before, _view(resolved, target=target), resolved,
                               action="none", predecessors=[], plan=evidence.get("plan", {}),
                               validation_warnings=presence.warnings)
        # 4. deploy (a live one is re-applied in place: only what differs is touched)
        outcome = lifecycle.deploy(engine, presence.name, agent=target, targets=targets)
        with _session(engine) as session:
            _row, final = _load(session, presence.name)
        if outcome.status != "active":
            raise AutomationError(
                f"deploy of {presence.name} on {target} ended {outcome.status}: "
                f"{outcome.message}", code="DEPLOY_FAILED", report=outcome.to_dict(),
                status=outcome.status)
        return _result(True, before, _view(final, target=target), final,
                       action=presence.action, predecessors=torn, report=outcome.to_dict(),
                       validation_warnings=presence.warnings)


def _deployed_check(targets: Any, target: str, presence: Presence, before: dict[str, Any],
                    others: list[str], was_active_here: bool) -> dict[str, Any]:
    """What deployed would do: the plan on the target, nothing changed."""
    if was_active_here and not others:
        synced, evidence = tg.in_sync(targets, target, presence.desired)
        if synced:
            return _result(False, before, before, presence.desired, action="none",
                           predecessors=[], plan=evidence.get("plan", {}),
                           validation_warnings=presence.warnings)
    plan = tg.plan(targets, target, presence.desired)
    after_topology = presence.desired.model_copy(update={"status": "active"})
    return _result(True, before, _view(after_topology, target=target), presence.desired,
                   action=presence.action, predecessors=others, plan=plan,
                   validation_warnings=presence.warnings)


# --- state=torn_down -----------------------------------------------------------------------


def _teardown(connection: Connection, engine: Any, name: str, note: str = "") -> dict[str, Any]:
    """Tear the topology down on its target; its report, or TEARDOWN_FAILED (+ `note`)."""
    outcome = lifecycle.teardown(engine, name, targets=connection.targets())
    report = outcome.to_dict()
    if outcome.status != "torn_down":
        raise AutomationError(f"teardown of {name} ended {outcome.status}: "
                              f"{outcome.message}{note}", code="TEARDOWN_FAILED",
                              report=report)
    return report


def topology_torn_down(connection: Connection, name: str, check_mode: bool = False
                       ) -> dict[str, Any]:
    """Remove the topology's containers and networks; keep it stored (status torn_down)."""
    return _wrap(_torn_down, connection, name, check_mode)


def _torn_down(connection: Connection, name: str, check_mode: bool) -> dict[str, Any]:
    with connection.environment(), connection.engine(check_mode) as engine:
        with _session(engine) as session:
            _row, stored = _load(session, name)
        if stored is None:
            raise AutomationError(f"no topology named {name!r} is stored", code="NOT_FOUND")
        if stored.status in UNDEPLOYED:
            return _result(False, _view(stored), _view(stored), stored, action="none")
        after = stored.model_copy(update={"status": "torn_down"})
        if check_mode or engine is None:
            return _result(True, _view(stored), _view(after), stored, action="teardown")
        report = _teardown(connection, engine, name)
        with _session(engine) as session:
            _row, final = _load(session, name)
        return _result(True, _view(stored), _view(final), final, action="teardown",
                       report=report)


# --- state=absent --------------------------------------------------------------------------


def topology_absent(connection: Connection, name: str, check_mode: bool = False
                    ) -> dict[str, Any]:
    """Tear the topology down (when deployed), then delete it with everything it owns."""
    return _wrap(_absent, connection, name, check_mode)


def _absent(connection: Connection, name: str, check_mode: bool) -> dict[str, Any]:
    with connection.environment(), connection.engine(check_mode) as engine:
        with _session(engine) as session:
            _row, stored = _load(session, name)
        if stored is None:
            return _result(False, {}, {}, None, action="none")
        steps = (["teardown"] if stored.status not in UNDEPLOYED else []) + ["delete"]
        if check_mode or engine is None:
            return _result(True, _view(stored), {}, stored, action="+".join(steps))
        report = None
        if "teardown" in steps:
            report = _teardown(connection, engine, name, "; it was not deleted")
        with session_scope(engine) as session:
            # refused while any of its containers still runs (asked of its own target)
            topologies.delete(session, name, targets=connection.targets())
        result = _result(True, _view(stored), {}, None, action="+".join(steps))
        result["deleted"] = {"id": stored.id, "name": stored.name}
        if report is not None:
            result["report"] = report
        return result
