"""What a target (this machine's Docker or an agent) has, asked without changing anything."""

from __future__ import annotations

from typing import Any

from decnet_lib.catalog import SERVICES
from decnet_lib.deploy.naming import BASE_IMAGE
from decnet_lib.deploy.spec import desired_state
from decnet_lib.errors import DecnetError
from decnet_lib.master.lifecycle import TargetFactory
from decnet_lib.master.targets import LOCAL, AgentTarget, LocalTarget
from decnet_lib.topology.resolved import ResolvedDecky, ResolvedTopology


def is_local(target: str | None) -> bool:
    """None, '' and 'local' all mean this machine's Docker Engine."""
    return target in (None, "", LOCAL)


def plan(targets: TargetFactory, target: str, resolved: ResolvedTopology) -> dict[str, Any]:
    """The target's dry-run plan for `resolved` (reads Docker or nothing; changes nothing)."""
    return targets(target).plan(resolved)


def plan_changes(plan_: dict[str, Any]) -> bool:
    """Whether a plan changes anything (an agent plan, which cannot tell, says yes)."""
    summary = plan_.get("summary")
    if isinstance(summary, dict) and "changed" in summary:
        return bool(summary["changed"])
    return True


def in_sync(targets: TargetFactory, target: str, resolved: ResolvedTopology
            ) -> tuple[bool, dict[str, Any]]:
    """(does the target already run exactly `resolved`, the evidence).

    This machine: the deployer's plan has nothing to do (every object there with the same
    spec hash, every container running). Agent: it has this topology pinned with the same
    hash, active, and Docker has every expected container running.
    """
    target_obj = targets(target)
    if not isinstance(target_obj, AgentTarget):
        found = target_obj.plan(resolved)
        return not plan_changes(found), {"plan": found}
    try:
        state = target_obj._client().topology(resolved.id)
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


def observed_containers(targets: TargetFactory, target: str, topology_id: str
                        ) -> list[dict[str, Any]]:
    """The topology's containers as the target's Docker reports them (name, state, ...)."""
    target_obj = targets(target)
    if isinstance(target_obj, LocalTarget):
        from decnet_lib.deploy.deployer import Deployer

        with Deployer() as deployer:
            return deployer.inventory(topology_id).containers
    if isinstance(target_obj, AgentTarget):
        state = target_obj._client().topology(topology_id)
        return list((state.get("docker") or {}).get("containers") or [])
    return [{"name": name, "state": "running"} for name in target_obj.running(topology_id)]


def expected_containers(resolved: ResolvedTopology) -> list[str]:
    """Names of every container the topology needs."""
    return list(desired_state(resolved, BASE_IMAGE).containers)


def _probe_from(resolved: ResolvedTopology, decky: ResolvedDecky) -> str | None:
    """The base container to probe a non-DMZ decky from: a DMZ bridge on its home LAN,
    else any other decky there, else None (the decky itself)."""
    from decnet_lib.deploy.naming import base_container_name

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
    from decnet_lib.deploy.naming import base_container_name, service_container_name

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
