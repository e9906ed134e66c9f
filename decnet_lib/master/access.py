"""How to reach a deployed topology: the containers it needs and per-decky access hints."""

from __future__ import annotations

from typing import Any

from decnet_lib.catalog import SERVICES
from decnet_lib.deploy.naming import BASE_IMAGE, base_container_name, service_container_name
from decnet_lib.deploy.spec import desired_state
from decnet_lib.topology.resolved import ResolvedDecky, ResolvedTopology


def expected_containers(resolved: ResolvedTopology) -> list[str]:
    """Names of every container the topology needs."""
    return list(desired_state(resolved, BASE_IMAGE).containers)


def _probe_from(resolved: ResolvedTopology, decky: ResolvedDecky) -> str | None:
    """The base container to probe a non-DMZ decky from: a DMZ bridge on its home LAN,
    else any other decky there, else None (the decky itself)."""
    dmz = next((lan.name for lan in resolved.lans if lan.dmz), None)
    neighbours = [d for d in resolved.deckies if d.name != decky.name and decky.home in d.lans]
    via = next((d for d in neighbours if dmz in d.lans), neighbours[0] if neighbours else None)
    return base_container_name(resolved.id, via.name) if via is not None else None


def access_hints(resolved: ResolvedTopology, target: str, log_file: str | None
                 ) -> list[dict[str, Any]]:
    """Per decky: how to reach it (addresses, ports, a probe command) and where its logs are.

    DMZ deckies answer from the Docker host; the others only from inside the maze, so their
    probe runs in a neighbour's base container (`docker exec ... nc`).
    """
    dmz = next((lan.name for lan in resolved.lans if lan.dmz), None)
    hints = []
    for decky in resolved.deckies:
        base = base_container_name(resolved.id, decky.name)
        on_dmz = dmz in decky.lans
        address = decky.lans[dmz] if on_dmz and dmz else decky.lans[decky.home]
        via = None if on_dmz else (_probe_from(resolved, decky) or base)
        services = []
        for service in decky.services:
            known = SERVICES.get(service)
            ports = [f"{p.number}/{p.protocol}" for p in known.ports] if known else []
            first = known.ports[0] if known and known.ports else None
            probe = None
            if first is not None:
                udp = " -u" if first.protocol == "udp" else ""
                nc = f"nc{udp} -w 3 {address} {first.number}"
                probe = nc if via is None else f"docker exec {via} {nc}"
            container = service_container_name(resolved.id, decky.name, service)
            services.append({"service": service, "ports": ports, "container": container,
                             "probe": probe, "logs": f"docker logs {container}"})
        hints.append({
            "decky": decky.name,
            "home": decky.home,
            "addresses": dict(decky.lans),
            "reachable_from_host": on_dmz,
            "base_container": base,
            "shell": f"docker exec -it {base} sh",
            "services": services,
            "exposed_on_host": decky.expose,
            "target": target,
            "log_file": log_file,
        })
    return hints
