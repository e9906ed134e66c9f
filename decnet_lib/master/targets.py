"""Deployment targets: this machine's Docker Engine, or a remote agent over mutual TLS.

Every caller goes through the `Target` protocol: plan, apply, teardown, what runs, what
Docker reports (`observed`), whether the target already runs a topology (`in_sync`) and
whether it really holds it as recorded (`observe`, the drift check).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from decnet_lib.errors import DecnetError
from decnet_lib.topology.resolved import ResolvedTopology

if TYPE_CHECKING:
    from decnet_lib.deploy.deployer import Deployer
    from decnet_lib.deploy.pool import ProgressFn
    from decnet_lib.master.agent_client import AgentClient
    from decnet_lib.settings import Settings

LOCAL = "local"
Outcome = Literal["active", "degraded", "failed"]


@dataclass(frozen=True)
class ApplyReport:
    """What applying a topology on a target gave: the status it earns and why."""

    status: Outcome
    message: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Observation:
    """Whether a target really holds a topology as recorded, and if not, why."""

    matches: bool
    reason: str


class Target(Protocol):
    """Where topologies are deployed."""

    name: str

    def observe(self, resolved: ResolvedTopology) -> Observation: ...
    def plan(self, resolved: ResolvedTopology) -> dict[str, Any]: ...
    def apply(self, resolved: ResolvedTopology, progress: ProgressFn | None = None
              ) -> ApplyReport: ...
    def teardown(self, topology_id: str) -> tuple[bool, str]: ...
    def running(self, topology_id: str) -> list[str]: ...
    def observed(self, topology_id: str) -> list[dict[str, Any]]: ...
    def in_sync(self, resolved: ResolvedTopology) -> tuple[bool, dict[str, Any]]: ...


TargetFactory = Callable[[str | None], Target]
"""Picks the target of a topology from its agent (None: this machine's Docker)."""


def is_local(target: str | None) -> bool:
    """None, '' and 'local' all mean this machine's Docker Engine."""
    return target in (None, "", LOCAL)


def plan_changes(plan: dict[str, Any]) -> bool:
    """Whether a plan changes anything (an agent plan, which cannot tell, says yes)."""
    summary = plan.get("summary")
    if isinstance(summary, dict) and "changed" in summary:
        return bool(summary["changed"])
    return True


class PlanningTarget:
    """The parts of a target that follow from its plan and its running containers."""

    def plan(self, resolved: ResolvedTopology) -> dict[str, Any]:
        raise NotImplementedError

    def running(self, topology_id: str) -> list[str]:
        raise NotImplementedError

    def observed(self, topology_id: str) -> list[dict[str, Any]]:
        """The topology's containers (name, state, ...) as the target reports them."""
        return [{"name": name, "state": "running"} for name in self.running(topology_id)]

    def in_sync(self, resolved: ResolvedTopology) -> tuple[bool, dict[str, Any]]:
        """(the target already runs exactly `resolved`: its plan has nothing to do, the plan)."""
        found = self.plan(resolved)
        return not plan_changes(found), {"plan": found}


class LocalTarget(PlanningTarget):
    """This machine's Docker Engine, driven in-process by the Deployer."""

    name = LOCAL

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings

    def _deployer(self) -> Deployer:
        from decnet_lib.deploy.deployer import Deployer

        containment = self.settings.containment if self.settings is not None else None
        return Deployer(containment=containment)

    def plan(self, resolved: ResolvedTopology) -> dict[str, Any]:
        with self._deployer() as deployer:
            plan = deployer.plan(resolved)
        return {**plan.to_dict(), "text": plan.render()}

    def apply(self, resolved: ResolvedTopology, progress: ProgressFn | None = None
              ) -> ApplyReport:
        with self._deployer() as deployer:
            result = deployer.apply(resolved, progress=progress)
        return ApplyReport(result.status, result.message(), result.to_dict())

    def teardown(self, topology_id: str) -> tuple[bool, str]:
        with self._deployer() as deployer:
            result = deployer.teardown(topology_id)
        removed = f"removed {len(result.containers)} containers, {len(result.networks)} networks"
        if result.ok:
            return True, removed
        return False, f"{removed}; {len(result.errors)} failed: {result.errors[0]}"

    def running(self, topology_id: str) -> list[str]:
        from decnet_lib.deploy.running import running_containers

        return running_containers(topology_id)

    def observed(self, topology_id: str) -> list[dict[str, Any]]:
        with self._deployer() as deployer:
            return deployer.inventory(topology_id).containers

    def observe(self, resolved: ResolvedTopology) -> Observation:
        from decnet_lib.deploy.reality import mismatch_reason, reality_facts

        with self._deployer() as deployer:
            inventory = deployer.inventory(resolved.id).to_dict()
        facts = reality_facts(resolved, inventory)
        if facts["matches"]:
            return Observation(True, "Docker matches the topology")
        return Observation(False, f"Docker differs: {mismatch_reason(facts)}")


class AgentTarget:
    """A remote agent (`decnet agent serve`), reached over mutual TLS."""

    def __init__(self, url: str, settings: Settings | None = None) -> None:
        self.name = url
        self.settings = settings

    def _client(self) -> AgentClient:
        from decnet_lib.master.agent_client import AgentClient
        from decnet_lib.settings import get_settings

        settings = self.settings or get_settings()
        return AgentClient(self.name, cert=settings.master_cert, key=settings.master_key,
                           ca=settings.ca)

    def plan(self, resolved: ResolvedTopology) -> dict[str, Any]:
        from decnet_lib.deploy.naming import BASE_IMAGE
        from decnet_lib.deploy.spec import desired_state

        desired = desired_state(resolved, BASE_IMAGE)
        names = [*desired.networks, *desired.containers]
        text = (f"Plan for topology {resolved.name} on agent {self.name}: the agent makes "
                f"Docker match {len(desired.networks)} networks and "
                f"{len(desired.containers)} containers:\n" + "\n".join(f"  {n}" for n in names))
        return {"topology_id": resolved.id, "agent": self.name, "desired": names, "text": text}

    def apply(self, resolved: ResolvedTopology, progress: ProgressFn | None = None
              ) -> ApplyReport:
        answer = self._client().apply(resolved)
        status = answer.get("status", "failed")
        if status not in ("active", "degraded", "failed"):
            status = "failed"
        return ApplyReport(status, answer.get("message") or status, answer)

    def teardown(self, topology_id: str) -> tuple[bool, str]:
        answer = self._client().teardown(topology_id)
        return bool(answer.get("ok", True)), answer.get("message", "torn down by the agent")

    def observe(self, resolved: ResolvedTopology) -> Observation:
        from decnet_lib.deploy.reality import mismatch_reason

        state = self._client().topology()
        held = state.get("id")
        if held != resolved.id:
            other = state.get("name") or held
            return Observation(False, f"agent {self.name} holds "
                               f"{'topology ' + str(other) if other else 'no topology'} "
                               f"instead of {resolved.name}")
        if state.get("hash") != resolved.hash:
            return Observation(False, f"agent {self.name} holds another version of "
                               f"{resolved.name} (hash {str(state.get('hash'))[:12]})")
        facts = state.get("docker") or {}
        if facts.get("matches"):
            return Observation(True, f"agent {self.name} matches the topology")
        return Observation(False, f"agent {self.name}: {mismatch_reason(facts)}")

    def running(self, topology_id: str) -> list[str]:
        state = self._client().topology()
        docker = state.get("docker") or {}
        if docker.get("topology_id") not in (None, topology_id):
            return []
        return [c["name"] for c in docker.get("containers", []) if c.get("state") == "running"]

    def observed(self, topology_id: str) -> list[dict[str, Any]]:
        state = self._client().topology(topology_id)
        return list((state.get("docker") or {}).get("containers") or [])

    def in_sync(self, resolved: ResolvedTopology) -> tuple[bool, dict[str, Any]]:
        """The agent has this topology pinned with the same hash, active, and Docker has
        every expected container running."""
        try:
            state = self._client().topology(resolved.id)
        except DecnetError as exc:
            return False, {"agent_error": exc.message}
        docker = state.get("docker") or {}
        synced = (
            state.get("id") == resolved.id
            and state.get("hash") == resolved.hash
            and state.get("status") == "active"
            and bool(docker.get("all_running"))
            and not docker.get("missing")
        )
        return synced, {"agent": state}


def target_for(agent: str | None, settings: Settings | None = None) -> Target:
    """The target named by a topology's `agent` column (None or 'local' = this machine)."""
    if is_local(agent):
        return LocalTarget(settings)
    assert agent is not None
    return AgentTarget(agent, settings)


def targets_for(settings: Settings) -> TargetFactory:
    """The target factory of these settings (agents reached with their credentials)."""
    return lambda agent: target_for(agent, settings)
