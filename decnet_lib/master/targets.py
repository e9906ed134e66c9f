"""Deployment targets: this machine's Docker Engine, or a remote agent over mutual TLS."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from decnet_lib.deploy.pool import ProgressFn
from decnet_lib.settings import get_settings
from decnet_lib.topology.resolved import ResolvedTopology

if TYPE_CHECKING:
    from decnet_lib.deploy.deployer import Deployer
    from decnet_lib.master.agent_client import AgentClient

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


class LocalTarget:
    """This machine's Docker Engine, driven in-process by the Deployer."""

    name = LOCAL

    def _deployer(self) -> Deployer:
        from decnet_lib.deploy.deployer import Deployer

        return Deployer()

    def plan(self, resolved: ResolvedTopology) -> dict[str, Any]:
        with self._deployer() as deployer:
            plan = deployer.plan(resolved)
        return {**plan.to_dict(), "text": plan.render()}

    def apply(self, resolved: ResolvedTopology, progress: ProgressFn | None = None
              ) -> ApplyReport:
        with self._deployer() as deployer:
            result = deployer.apply(resolved, progress=progress)
        if result.errors:
            status: Outcome = "failed"
        elif result.crashed:
            status = "degraded"
        else:
            status = "active"
        return ApplyReport(status, result.message(), result.to_dict())

    def teardown(self, topology_id: str) -> tuple[bool, str]:
        with self._deployer() as deployer:
            result = deployer.teardown(topology_id)
        removed = f"removed {len(result.containers)} containers, {len(result.networks)} networks"
        if result.ok:
            return True, removed
        return False, f"{removed}; {len(result.errors)} failed: {result.errors[0]}"

    def running(self, topology_id: str) -> list[str]:
        from decnet_lib.deploy.probe import running_containers

        return running_containers(topology_id)

    def observe(self, resolved: ResolvedTopology) -> Observation:
        from decnet_lib.deploy.reality import mismatch_reason, reality_facts

        with self._deployer() as deployer:
            inventory = deployer.inventory(resolved.id).to_dict()
        facts = reality_facts(resolved, inventory)
        if facts["matches"]:
            return Observation(True, "Docker matches the topology")
        return Observation(False, f"Docker differs: {mismatch_reason(facts)}")


def master_credentials() -> tuple[Path, Path, Path]:
    """(client cert, client key, CA) for talking to agents; DECNET_MASTER_CERT/KEY, DECNET_CA."""
    pki = get_settings().state_dir / "pki"
    return (
        Path(os.environ.get("DECNET_MASTER_CERT") or pki / "master.crt"),
        Path(os.environ.get("DECNET_MASTER_KEY") or pki / "master.key"),
        Path(os.environ.get("DECNET_CA") or pki / "ca.crt"),
    )


class AgentTarget:
    """A remote agent (`decnet agent serve`), reached over mutual TLS."""

    def __init__(self, url: str) -> None:
        self.name = url

    def _client(self) -> AgentClient:
        from decnet_lib.master.agent_client import AgentClient

        cert, key, ca = master_credentials()
        return AgentClient(self.name, cert=cert, key=key, ca=ca)

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


TargetFactory = Callable[[str | None], "Target"]
"""Picks the target of a topology from its agent (None: this machine's Docker)."""


def target_for(agent: str | None) -> Target:
    """The target named by a topology's `agent` column (None or 'local' = this machine)."""
    if agent in (None, "", LOCAL):
        return LocalTarget()
    return AgentTarget(agent)
