"""Backends of `decnet.mazenet.decnet_topology`: present, deployed, torn_down and absent.

Every function returns a plain result dict `{changed, diff: {before, after}, ...}` and
raises AutomationError for anything the module must fail on. In check mode nothing is
written (no database file or table is created) and Docker is only read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from decnet_lib.automation.connection import Connection
from decnet_lib.automation.errors import AutomationError, from_decnet_error
from decnet_lib.automation.inputs import load_input
from decnet_lib.errors import DecnetError
from decnet_lib.master import lifecycle, topologies
from decnet_lib.master.database import read_session, write_session
from decnet_lib.master.documents import as_document, document_name
from decnet_lib.master.predecessors import drop_predecessors, predecessors, same_target
from decnet_lib.master.presence import Presence, check_replaceable, ensure_present, evaluate
from decnet_lib.master.status import UNDEPLOYED_STATUSES
from decnet_lib.master.topologies import load_stored
from decnet_lib.topology.render import summary
from decnet_lib.topology.resolved import ResolvedTopology

if TYPE_CHECKING:
    from sqlalchemy.orm import Session



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


def _wrap(call: Any, connection: Connection, *args: Any, **kwargs: Any) -> Any:
    """Run a backend; library errors become ours."""
    try:
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
    data = load_input(spec, src, connection.settings.max_document_bytes)
    with connection.engine(check_mode) as engine:
        if check_mode or engine is None:
            with read_session(engine) as session:
                presence = evaluate(session, data, replace)
            stored = presence.stored
            if presence.action == "replace" and stored is not None:
                check_replaceable(presence.name, stored.status)
            after = presence.desired if presence.action != "none" else stored
            return _result(presence.action != "none", _view(stored), _view(after), after,
                           action=presence.action, validation_warnings=presence.warnings)
        presence, resolved = ensure_present(engine, data, replace, live_ok=False)
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
    row, stored = load_stored(session, name)
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
    data = load_input(spec, src, connection.settings.max_document_bytes) \
        if (spec is not None or src is not None) else None
    if data is not None:
        _check_name(data, name)
    target = connection.target
    with connection.engine(check_mode) as engine:
        targets = connection.targets()
        with read_session(engine) as session:
            presence = evaluate(session, data, replace) if data is not None else \
                _existing(session, name)
            before_predecessors = predecessors(session, target, presence.name)
        stored = presence.stored
        if stored is not None and presence.agent and not same_target(presence.agent, target) \
                and stored.status not in UNDEPLOYED_STATUSES:
            raise AutomationError(
                f"topology {presence.name} is {stored.status} on {presence.agent}: tear it down "
                f"there first (state=torn_down) before deploying it on {target}",
                code="REFUSED")
        before = _view(stored, target=presence.agent or ("local" if stored else None)) \
            if stored else {}
        unchanged_definition = presence.action == "none" and stored is not None
        was_active_here = (unchanged_definition and stored is not None
                           and stored.status == "active" and same_target(presence.agent, target)
                           and presence.agent is not None)
        if check_mode or engine is None:
            return _deployed_check(targets, target, presence, before, before_predecessors,
                                   was_active_here)
        # 1. tear down a different predecessor on the same agent
        torn = drop_predecessors(engine, target, before_predecessors, targets)
        # 2. persist
        if data is not None:
            presence, resolved = ensure_present(engine, data, replace, live_ok=True)
        else:
            resolved = stored  # type: ignore[assignment]
        # 3. already running exactly this? then nothing to do
        if was_active_here and not torn:
            synced, evidence = targets(target).in_sync(resolved)
            if synced:
                return _result(False, before, _view(resolved, target=target), resolved,
                               action="none", predecessors=[], plan=evidence.get("plan", {}),
                               validation_warnings=presence.warnings)
        # 4. deploy (a live one is re-applied in place: only what differs is touched)
        outcome = lifecycle.deploy(engine, presence.name, agent=target, targets=targets)
        with read_session(engine) as session:
            _row, final = load_stored(session, presence.name)
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
        synced, evidence = targets(target).in_sync(presence.desired)
        if synced:
            return _result(False, before, before, presence.desired, action="none",
                           predecessors=[], plan=evidence.get("plan", {}),
                           validation_warnings=presence.warnings)
    plan = targets(target).plan(presence.desired)
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
    with connection.engine(check_mode) as engine:
        with read_session(engine) as session:
            _row, stored = load_stored(session, name)
        if stored is None:
            raise AutomationError(f"no topology named {name!r} is stored", code="NOT_FOUND")
        if stored.status in UNDEPLOYED_STATUSES:
            return _result(False, _view(stored), _view(stored), stored, action="none")
        after = stored.model_copy(update={"status": "torn_down"})
        if check_mode or engine is None:
            return _result(True, _view(stored), _view(after), stored, action="teardown")
        report = _teardown(connection, engine, name)
        with read_session(engine) as session:
            _row, final = load_stored(session, name)
        return _result(True, _view(stored), _view(final), final, action="teardown",
                       report=report)


# --- state=absent --------------------------------------------------------------------------


def topology_absent(connection: Connection, name: str, check_mode: bool = False
                    ) -> dict[str, Any]:
    """Tear the topology down (when deployed), then delete it with everything it owns."""
    return _wrap(_absent, connection, name, check_mode)


def _absent(connection: Connection, name: str, check_mode: bool) -> dict[str, Any]:
    with connection.engine(check_mode) as engine:
        with read_session(engine) as session:
            _row, stored = load_stored(session, name)
        if stored is None:
            return _result(False, {}, {}, None, action="none")
        steps = (["teardown"] if stored.status not in UNDEPLOYED_STATUSES else []) + ["delete"]
        if check_mode or engine is None:
            return _result(True, _view(stored), {}, stored, action="+".join(steps))
        report = None
        if "teardown" in steps:
            report = _teardown(connection, engine, name, "; it was not deleted")
        with write_session(engine) as session:
            # refused while any of its containers still runs (asked of its own target)
            topologies.delete(session, name, targets=connection.targets())
        result = _result(True, _view(stored), {}, None, action="+".join(steps))
        result["deleted"] = {"id": stored.id, "name": stored.name}
        if report is not None:
            result["report"] = report
        return result
