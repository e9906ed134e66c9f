"""Deploy and tear down stored topologies, with every status transition recorded.

The database transaction is never held while Docker or an agent works: the status moves to
`deploying`/`tearing_down` and is committed first, the target works, then the outcome is
committed. A crash in between leaves the topology in a state from which deploy or teardown
can be run again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, update

from decnet_lib.db import Mutation, load_resolved, lock_topology, new_session, require_topology
from decnet_lib.db.status import (
    SERVING_STATUSES,
    UNDEPLOYED_STATUSES,
    allowed,
    settle,
    transition,
)
from decnet_lib.deploy.pool import ProgressFn
from decnet_lib.errors import DecnetError, Refused
from decnet_lib.master.decky_events import decky_states, publish_decky_states
from decnet_lib.master.deploy_lease import held_lease, recover_expired
from decnet_lib.master.drift import record_predecessors
from decnet_lib.master.targets import LOCAL, ApplyReport, TargetFactory, target_for
from decnet_lib.mutations.reconciler import PushHook
from decnet_lib.topology.resolved import ResolvedTopology


@dataclass
class LifecycleResult:
    """What a deploy or teardown did, for the CLI and the Ansible modules."""

    name: str
    topology_id: str
    status: str
    changed: bool
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "id": self.topology_id, "status": self.status,
                "changed": self.changed, "message": self.message, "details": self.details}


def plan_deploy(engine: Engine, name: str, agent: str | None = None,
                targets: TargetFactory = target_for) -> dict[str, Any]:
    """What deploy would do (dry run): changes nothing."""
    with new_session(engine) as session:
        row = require_topology(session, name)
        resolved = load_resolved(session, row)
        where = agent or row.agent or LOCAL
    return {"name": name, "target": where, **targets(where).plan(resolved)}


def deploy(
    engine: Engine, name: str, agent: str | None = None,
    progress: ProgressFn | None = None, targets: TargetFactory = target_for,
) -> LifecycleResult:
    """Make the target match the stored topology; status ends active, degraded or failed.

    A live topology is re-applied in place (a degraded one heals back to active when the
    target matches again); any other is moved through `deploying`.
    """
    with new_session(engine) as session:
        row = lock_topology(session, require_topology(session, name).id)
        where = agent or row.agent or LOCAL
        if row.agent not in (None, where) and row.status not in UNDEPLOYED_STATUSES:
            raise Refused(f"topology {name} is deployed on {row.agent}; tear it down before "
                          f"moving it to {where}")
        if row.status == "deploying":
            recover_expired(session, row)  # a deploy that died: failed, with the reason
        if row.status not in SERVING_STATUSES:
            if not allowed(row.status, "deploying"):
                raise Refused(f"topology {name} is {row.status}: it cannot be deployed now")
            transition(session, row, "deploying", f"deploy to {where}")
        row.agent = where
        resolved = load_resolved(session, row)
        topology_id, before = row.id, row.status
        session.commit()
    try:
        with held_lease(engine, topology_id):
            report = targets(where).apply(resolved, progress)
    except DecnetError as exc:
        report = ApplyReport("failed", exc.message)
    publish_decky_states(resolved, decky_states(resolved, report.details))
    predecessors = report.details.get("predecessors") or []
    if predecessors:  # what the agent tore down to take this one is torn down now
        record_predecessors(engine, predecessors, where, name)
    with new_session(engine) as session:
        row = lock_topology(session, topology_id)
        settle(session, row, report.status, report.message)
        status = row.status
        session.commit()
    changed = before != status or bool(report.details.get("plan", {}).get("summary", {})
                                        .get("changed", before not in SERVING_STATUSES))
    return LifecycleResult(name, topology_id, status, changed, report.message, report.details)


def teardown(engine: Engine, name: str, targets: TargetFactory = target_for) -> LifecycleResult:
    """Remove every Docker object of the topology (found by label); ends torn_down.

    Pending mutations of the topology are failed: they were meant for the live maze.
    """
    with new_session(engine) as session:
        row = lock_topology(session, require_topology(session, name).id)
        if row.status in UNDEPLOYED_STATUSES:
            return LifecycleResult(name, row.id, row.status, False, "nothing deployed")
        if row.status != "tearing_down":
            transition(session, row, "tearing_down", "teardown requested")
        topology_id, where = row.id, row.agent
        resolved = load_resolved(session, row)
        session.execute(
            update(Mutation)
            .where(Mutation.topology_id == topology_id, Mutation.state == "pending")
            .values(state="failed", error={"code": "TORN_DOWN",
                                           "message": "the topology was torn down"})
        )
        session.commit()
    try:
        ok, message = targets(where).teardown(topology_id)
    except DecnetError as exc:
        ok, message = False, exc.message
    if ok:
        publish_decky_states(resolved, dict.fromkeys((d.name for d in resolved.deckies),
                                                     "removed"))
    with new_session(engine) as session:
        row = lock_topology(session, topology_id)
        transition(session, row, "torn_down" if ok else "failed", message)
        status = row.status
        session.commit()
    return LifecycleResult(name, topology_id, status, True, message)


def push_hook(targets: TargetFactory = target_for) -> PushHook:
    """The reconciler's push hook: apply a live topology's new form on its target.

    Only the objects the change touches are recreated (the deployer plans a diff).
    """

    def hook(resolved: ResolvedTopology, agent: str | None) -> bool:
        report = targets(agent).apply(resolved)
        publish_decky_states(resolved, decky_states(resolved, report.details))
        return report.status == "active"

    return hook


def running_containers(engine: Engine, name: str, targets: TargetFactory = target_for
                       ) -> list[str]:
    """Names of the topology's running containers on its target."""
    with new_session(engine) as session:
        row = require_topology(session, name)
        topology_id, where = row.id, row.agent
    return targets(where).running(topology_id)
