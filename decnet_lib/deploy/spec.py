"""Desired state: the Docker networks and containers a resolved topology needs.

Every spec carries a stable spec hash (SHA-256 over its creation-relevant fields), stored as
the label `decnet.spec.hash`; the planner recreates an object when the hash differs. A base's
hash includes the hashes of its networks and a service's hash includes its base's hash, so a
recreated network recreates the bases on it, and a recreated base recreates its services.

Restart policy: none (Docker's "no"). A container that crashes stays `exited` with its exit
code, so `verify` and the agent's reality check see it (a restart loop would hide a crash at
boot behind a container that is "running" half of the time); the next apply starts it again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from decnet_lib.catalog import SERVICES
from decnet_lib.deploy import labels as L
from decnet_lib.deploy.hardening import (
    UNPRIVILEGED_PORTS,
    Hardening,
    hardening_for,
)
from decnet_lib.deploy.naming import (
    BASE_IMAGE,
    base_container_name,
    network_name,
    service_container_name,
)
from decnet_lib.deploy.service_env import service_environment
from decnet_lib.personas import persona
from decnet_lib.topology.resolve import default_image, is_default_image
from decnet_lib.topology.resolved import ResolvedDecky, ResolvedTopology

Role = Literal["base", "service"]
IP_FORWARD = "net.ipv4.ip_forward"


def digest(fields: dict[str, Any]) -> str:
    """SHA-256 hex digest of the sorted-key compact JSON of `fields`."""
    return hashlib.sha256(orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)).hexdigest()


@dataclass(frozen=True)
class NetworkSpec:
    """One LAN as a Docker network."""

    name: str
    lan: str
    subnet: str
    gateway: str
    internal: bool
    driver: str = "bridge"
    options: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def spec_hash(self) -> str:
        return self.labels[L.SPEC_HASH]


@dataclass(frozen=True)
class ContainerSpec:
    """One container: a decky's base (holds its IPs) or one of its services."""

    name: str
    role: Role
    decky: str
    image: str
    service: str | None = None
    base: str | None = None  # the base container a service shares its network with
    hostname: str | None = None
    environment: dict[str, str] = field(default_factory=dict)
    networks: tuple[tuple[str, str], ...] = ()  # (network name, IPv4), home first
    sysctls: dict[str, str] = field(default_factory=dict)
    ports: tuple[tuple[int, str], ...] = ()  # (port, protocol), published as host port = port
    bind_address: str = "0.0.0.0"  # the host address published ports bind to
    hardening: Hardening = field(default_factory=Hardening)
    init: bool = True
    restart_policy: str | None = None
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def spec_hash(self) -> str:
        return self.labels[L.SPEC_HASH]

    @property
    def network_mode(self) -> str | None:
        """`container:<base>` for a service, the home network for a base."""
        if self.base is not None:
            return f"container:{self.base}"
        return self.networks[0][0] if self.networks else None


@dataclass(frozen=True)
class DesiredState:
    """Everything one topology needs on Docker, by object name."""

    topology_id: str
    topology_name: str
    networks: dict[str, NetworkSpec]
    containers: dict[str, ContainerSpec]

    def bases(self) -> Iterator[ContainerSpec]:
        return (spec for spec in self.containers.values() if spec.role == "base")

    def services(self) -> Iterator[ContainerSpec]:
        return (spec for spec in self.containers.values() if spec.role == "service")


def _common_labels(topology: ResolvedTopology) -> dict[str, str]:
    return {L.MANAGED: "true", L.TOPOLOGY_ID: topology.id, L.TOPOLOGY_NAME: topology.name}


def _with_hash(labels: dict[str, str], fields: dict[str, Any]) -> dict[str, str]:
    return {**labels, L.SPEC_HASH: digest({**fields, "labels": labels})}


def network_spec(topology: ResolvedTopology, lan_name: str) -> NetworkSpec:
    """The network of one LAN: explicit subnet and gateway, internal unless it is the DMZ."""
    lan = topology.lan(lan_name)
    if lan is None:
        raise KeyError(f"unknown LAN {lan_name!r}")
    options = {"parent": lan.parent} if lan.driver != "bridge" and lan.parent else {}
    fields = {
        "name": network_name(topology.id, lan.name),
        "subnet": lan.subnet,
        "gateway": lan.gateway,
        "internal": not lan.dmz,
        "driver": lan.driver,
        "options": options,
    }
    labels = _with_hash({**_common_labels(topology), L.LAN: lan.name}, fields)
    return NetworkSpec(lan=lan.name, labels=labels, **fields)


def published_ports(decky: ResolvedDecky) -> tuple[tuple[int, str], ...]:
    """Every port of every catalog service of the decky, in order, without duplicates."""
    ports = (
        (port.number, port.protocol)
        for svc in decky.services
        if svc in SERVICES
        for port in SERVICES[svc].ports
    )
    return tuple(dict.fromkeys(ports))


def base_spec(
    topology: ResolvedTopology,
    decky: ResolvedDecky,
    networks: dict[str, NetworkSpec],
    image: str = BASE_IMAGE,
) -> ContainerSpec:
    """The base container of a decky: one static IP per LAN, home network first."""
    nets = tuple((network_name(topology.id, lan), ip) for lan, ip in decky.lans.items())
    ports = published_ports(decky) if decky.expose else ()
    bind = decky.expose.get("address", "0.0.0.0") if isinstance(decky.expose, dict) \
        else "0.0.0.0"
    hardening = hardening_for("base")
    fields: dict[str, Any] = {
        "name": base_container_name(topology.id, decky.name),
        "image": image,
        "hostname": decky.name,
        "networks": [list(item) for item in nets],
        # forwarding only where the decky routes; low ports for its unprivileged services
        "sysctls": {IP_FORWARD: "1" if decky.forwards_l3 else "0", UNPRIVILEGED_PORTS: "0"},
        "ports": [list(item) for item in ports],
        "bind_address": bind,
        "init": True,
        "restart_policy": None,
        "hardening": hardening.fields(),
    }
    net_hashes = [networks[net].spec_hash for net, _ in nets if net in networks]
    labels = {**_common_labels(topology), L.DECKY: decky.name, L.ROLE: L.ROLE_BASE}
    labels = _with_hash(labels, {**fields, "network_hashes": net_hashes})
    return ContainerSpec(
        name=fields["name"],
        role="base",
        decky=decky.name,
        image=image,
        hostname=decky.name,
        networks=nets,
        sysctls=fields["sysctls"],
        ports=ports,
        bind_address=bind,
        hardening=hardening,
        labels=labels,
    )


def service_image(decky: ResolvedDecky, service: str) -> str:
    """The decky's replacement image for `service`, else the service's own image for the
    decky's emulation (full `decnet/svc-<name>`, light `decnet/svc-<name>-light`)."""
    image = decky.images.get(service) or ""
    if image and not is_default_image(service, image):
        return image
    return default_image(service, decky.emulation)


def image_emulation(service: str, image: str) -> str:
    """"full" for the service's own full emulator image, else "light" (the busybox
    emulators and replacement images get the light profile: nobody, no capability)."""
    return "full" if image == default_image(service, "full") else "light"


def decky_persona(topology: ResolvedTopology, decky: ResolvedDecky) -> dict[str, Any]:
    """The persona every service container of the decky is given."""
    return persona(topology.id, topology.name, decky.name, decky.archetype, decky.domain)


def service_spec(
    topology: ResolvedTopology, decky: ResolvedDecky, service: str, base: ContainerSpec
) -> ContainerSpec:
    """One service container, sharing its base's network namespace."""
    image = service_image(decky, service)
    emulation = image_emulation(service, image)
    env = service_environment(
        topology.name, decky.name, service, decky.service_config.get(service, {}),
        persona=decky_persona(topology, decky), catalog_defaults=emulation != "full",
    )
    hardening = hardening_for("service", service, decky.resources, emulation=emulation)
    fields: dict[str, Any] = {
        "name": service_container_name(topology.id, decky.name, service),
        "image": image,
        "environment": env,
        "network_mode": f"container:{base.name}",
        "init": True,
        "restart_policy": None,
        "base_hash": base.spec_hash,
        "hardening": hardening.fields(),
    }
    labels = {
        **_common_labels(topology),
        L.DECKY: decky.name,
        L.ROLE: L.ROLE_SERVICE,
        L.SERVICE: service,
        L.TOPOLOGY_SERVICE: "true",
    }
    return ContainerSpec(
        name=fields["name"],
        role="service",
        decky=decky.name,
        image=image,
        service=service,
        base=base.name,
        environment=env,
        hardening=hardening,
        labels=_with_hash(labels, fields),
    )


def desired_state(topology: ResolvedTopology, base_image: str = BASE_IMAGE) -> DesiredState:
    """Build the desired state of a resolved topology (pure: no Docker involved)."""
    networks = {spec.name: spec for spec in (network_spec(topology, lan.name)
                                             for lan in topology.lans)}
    containers: dict[str, ContainerSpec] = {}
    for decky in topology.deckies:
        base = base_spec(topology, decky, networks, base_image)
        containers[base.name] = base
        for service in decky.services:
            spec = service_spec(topology, decky, service, base)
            containers[spec.name] = spec
    return DesiredState(topology.id, topology.name, networks, containers)
