"""Fakes for the test_automation_* modules: an in-memory deployment target.

`FakeWorld` stands for Docker on every target: it remembers which topology hash runs where.
Connections built with `connection()` use it instead of this machine's Docker or an agent.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from decnet_lib.automation import Connection
from decnet_lib.master.access import expected_containers
from decnet_lib.master.targets import ApplyReport, PlanningTarget
from decnet_lib.topology.resolved import ResolvedTopology


def document(name: str = "lab", third: int = 0, deckies: int = 2) -> dict[str, Any]:
    """A valid topology document with subnets 10.231.<third>.0/24 and <third+1>."""
    lans = [
        {"name": "dmz", "subnet": f"10.231.{third}.0/24", "dmz": True},
        {"name": "office", "subnet": f"10.231.{third + 1}.0/24"},
    ]
    items = [{"name": "gw01", "services": ["ssh"], "lans": {"dmz": None, "office": None},
              "forwards_l3": True}]
    items += [{"name": f"ws{i:02d}", "services": ["http"], "lans": {"office": None}}
              for i in range(1, deckies)]
    return {"name": name, "lans": lans, "deckies": items}


@dataclass
class FakeWorld:
    """What runs on each target: topology id -> {hash, target, running}."""

    running: dict[str, dict[str, Any]] = field(default_factory=dict)
    fail_next_apply: bool = False
    calls: list[tuple[str, str, str]] = field(default_factory=list)
    on_running: Callable[[], None] | None = None  # runs whenever a target is asked

    def factory(self, agent: str | None) -> FakeTarget:
        return FakeTarget(agent or "local", self)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        return copy.deepcopy(self.running)


@dataclass
class FakeTarget(PlanningTarget):
    """A target whose observed containers and sync follow from `running` and `plan`."""

    name: str
    world: FakeWorld

    def plan(self, resolved: ResolvedTopology) -> dict[str, Any]:
        self.world.calls.append(("plan", self.name, resolved.name))
        have = self.world.running.get(resolved.id)
        changed = have is None or have["hash"] != resolved.hash or not have["up"]
        return {"topology_id": resolved.id, "summary": {"changed": changed},
                "text": f"plan {resolved.name}"}

    def apply(self, resolved: ResolvedTopology, progress: Any = None) -> ApplyReport:
        self.world.calls.append(("apply", self.name, resolved.name))
        if self.world.fail_next_apply:
            self.world.fail_next_apply = False
            return ApplyReport("failed", "1 problem(s): boom")
        self.world.running[resolved.id] = {
            "hash": resolved.hash, "target": self.name, "up": True, "name": resolved.name,
            "containers": expected_containers(resolved),
        }
        return ApplyReport("active", "applied", {"plan": {"summary": {"changed": True}}})

    def teardown(self, topology_id: str) -> tuple[bool, str]:
        self.world.calls.append(("teardown", self.name, topology_id))
        self.world.running.pop(topology_id, None)
        return True, "removed"

    def running(self, topology_id: str) -> list[str]:
        if self.world.on_running is not None:
            self.world.on_running()
        have = self.world.running.get(topology_id)
        return list(have["containers"]) if have and have["up"] else []


def connection(db_url: str, world: FakeWorld, agent_url: str | None = None) -> Connection:
    return Connection(db_url=db_url, agent_url=agent_url, target_factory=world.factory)
