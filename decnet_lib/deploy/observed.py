"""What Docker has for a topology, found only by labels (never by name or subnet).

`Observed` is the typed snapshot the planner diffs against; `Inventory` is the plain view
of it that reports (the agent's `GET /topology`, the Ansible info module) show.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from docker import DockerClient
from docker.errors import ImageNotFound

from decnet_lib.deploy import labels as L


class _Labelled:
    """What every observed object tells by its labels."""

    labels: dict[str, str]

    @property
    def spec_hash(self) -> str | None:
        return self.labels.get(L.SPEC_HASH)

    @property
    def topology_id(self) -> str | None:
        return self.labels.get(L.TOPOLOGY_ID)


@dataclass(frozen=True)
class ObservedNetwork(_Labelled):
    """A labelled Docker network."""

    name: str
    id: str
    labels: dict[str, str] = field(default_factory=dict)
    driver: str = "bridge"
    internal: bool = False
    subnets: tuple[str, ...] = ()


@dataclass(frozen=True)
class ObservedContainer(_Labelled):
    """A labelled Docker container, running or not."""

    name: str
    id: str
    labels: dict[str, str] = field(default_factory=dict)
    state: str = "running"
    status: str = ""
    image: str = ""
    image_id: str = ""  # the image it was created from (sha256:...), whatever its tag now
    networks: tuple[str, ...] = ()  # networks it has endpoints on (none for a service)

    @property
    def role(self) -> str | None:
        return self.labels.get(L.ROLE)

    @property
    def decky(self) -> str | None:
        return self.labels.get(L.DECKY)

    @property
    def running(self) -> bool:
        return self.state == "running"


@dataclass(frozen=True)
class Observed:
    """The labelled networks and containers of one topology (or of several)."""

    networks: list[ObservedNetwork] = field(default_factory=list)
    containers: list[ObservedContainer] = field(default_factory=list)

    def by_topology(self) -> dict[str, Observed]:
        """Split by `decnet.topology.id`; objects without that label are left out."""
        groups: dict[str, Observed] = {}
        for net in self.networks:
            if net.topology_id:
                groups.setdefault(net.topology_id, Observed()).networks.append(net)
        for ctr in self.containers:
            if ctr.topology_id:
                groups.setdefault(ctr.topology_id, Observed()).containers.append(ctr)
        return groups


def network_from_api(item: dict[str, Any]) -> ObservedNetwork:
    """An ObservedNetwork from one entry of the network list API."""
    configs = (item.get("IPAM") or {}).get("Config") or []
    return ObservedNetwork(
        name=item.get("Name", ""),
        id=item.get("Id", ""),
        labels=dict(item.get("Labels") or {}),
        driver=item.get("Driver", ""),
        internal=bool(item.get("Internal")),
        subnets=tuple(cfg["Subnet"] for cfg in configs if cfg.get("Subnet")),
    )


def container_from_api(item: dict[str, Any]) -> ObservedContainer:
    """An ObservedContainer from one entry of the container list API (no inspect needed)."""
    names: Iterable[str] = item.get("Names") or [""]
    return ObservedContainer(
        name=next(iter(names)).lstrip("/"),
        id=item.get("Id", ""),
        labels=dict(item.get("Labels") or {}),
        state=item.get("State", ""),
        status=item.get("Status", ""),
        image=item.get("Image", ""),
        image_id=item.get("ImageID", ""),
        networks=tuple(sorted((item.get("NetworkSettings") or {}).get("Networks") or {})),
    )


def observe_filter(client: DockerClient, filters: dict[str, list[str]]) -> Observed:
    """Networks and containers (stopped ones included) matching a label filter."""
    networks = [network_from_api(item) for item in client.api.networks(filters=filters)]
    containers = [
        container_from_api(item) for item in client.api.containers(all=True, filters=filters)
    ]
    networks.sort(key=lambda net: net.name)
    containers.sort(key=lambda ctr: ctr.name)
    return Observed(networks, containers)


def local_image_ids(client: DockerClient, images: Iterable[str]) -> dict[str, str]:
    """The image id each name or tag points to now; names not present locally are left out
    (creating their containers reports that)."""
    ids = {}
    for image in sorted(set(images)):
        try:
            ids[image] = client.api.inspect_image(image)["Id"]
        except ImageNotFound:
            continue
    return ids


def observe(client: DockerClient, topology_id: str) -> Observed:
    """What Docker has for one topology: `decnet.managed=true` + `decnet.topology.id`."""
    return observe_filter(client, L.topology_filter(topology_id))


def observe_managed(client: DockerClient) -> Observed:
    """Every MazeNET object on this engine, of any topology."""
    return observe_filter(client, L.managed_filter())


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
