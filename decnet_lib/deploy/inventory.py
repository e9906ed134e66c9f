"""What Docker really has for a topology (by label): names, states, ids."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from docker import DockerClient

from decnet_lib.deploy import labels as L
from decnet_lib.deploy.observe import observe


@dataclass(frozen=True)
class Inventory:
    """Networks and containers of one topology as Docker reports them."""

    topology_id: str
    networks: list[dict[str, Any]] = field(default_factory=list)
    containers: list[dict[str, Any]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.networks or self.containers)

    @property
    def all_running(self) -> bool:
        return all(c["state"] == "running" for c in self.containers)

    def to_dict(self) -> dict[str, Any]:
        return {"topology_id": self.topology_id, "networks": self.networks,
                "containers": self.containers}


def inventory(client: DockerClient, topology_id: str) -> Inventory:
    """List the topology's labelled networks and containers (stopped ones included)."""
    found = observe(client, topology_id)
    networks = [
        {"name": n.name, "id": n.id[:12], "lan": n.labels.get(L.LAN), "driver": n.driver,
         "internal": n.internal, "subnets": list(n.subnets)}
        for n in found.networks
    ]
    containers = [
        {"name": c.name, "id": c.id[:12], "state": c.state, "status": c.status,
         "decky": c.decky, "role": c.role, "service": c.labels.get(L.SERVICE),
         "image": c.image}
        for c in found.containers
    ]
    return Inventory(topology_id, networks, containers)
