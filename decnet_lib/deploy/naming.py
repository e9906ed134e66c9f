"""The one naming function for every Docker object, scoped by topology."""

from __future__ import annotations

BASE_IMAGE = "decnet/base:latest"
PREFIX = "dn"


def topo8(topology_id: str) -> str:
    """The first 8 characters of a topology id: enough to scope names per topology."""
    return topology_id[:8]


def object_name(topology_id: str, *parts: str) -> str:
    """`dn-<topo8>-<part>-...`: networks (LAN), base containers (decky), services."""
    return "-".join((PREFIX, topo8(topology_id), *parts))


def network_name(topology_id: str, lan: str) -> str:
    return object_name(topology_id, lan)


def base_container_name(topology_id: str, decky: str) -> str:
    return object_name(topology_id, decky)


def service_container_name(topology_id: str, decky: str, service: str) -> str:
    return object_name(topology_id, decky, service.replace("_", "-"))
