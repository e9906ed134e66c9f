"""Where containment meets a deploy: which subnets to hold, the default routes of internal
deckies, and which topologies' rules the reaper may remove.

Order (see Deployer.apply): the rules of every subnet the topology has or is about to have
are in place before a container starts; a LAN being removed keeps its rules until its
containers are gone; rules go after the last container of their topology.
"""

from __future__ import annotations

from collections.abc import Collection

from docker import DockerClient
from docker.errors import NotFound

from decnet_lib.deploy.containment import Firewall, drop_default_route
from decnet_lib.deploy.naming import base_container_name
from decnet_lib.deploy.observe import observe_managed
from decnet_lib.deploy.plan import Plan
from decnet_lib.topology.resolved import ResolvedTopology


def subnets(resolved: ResolvedTopology) -> list[str]:
    """The subnets of the topology's LANs (the only destinations its deckies may reach)."""
    return [lan.subnet for lan in resolved.lans]


def subnets_during(resolved: ResolvedTopology, plan: Plan) -> list[str]:
    """The desired subnets plus those of networks the plan removes: a decky still on a LAN
    that is going away stays contained until it is gone."""
    going = [subnet for net in plan.network_removals() for subnet in net.subnets]
    return list(dict.fromkeys([*subnets(resolved), *going]))


def internal_base_pids(client: DockerClient, resolved: ResolvedTopology) -> list[int]:
    """Pids of the running base containers of deckies homed on a non-DMZ LAN."""
    dmz = {lan.name for lan in resolved.lans if lan.dmz}
    pids = []
    for decky in resolved.deckies:
        if not decky.lans or decky.home in dmz:
            continue
        try:
            state = client.api.inspect_container(
                base_container_name(resolved.id, decky.name))["State"]
        except NotFound:
            continue
        if state.get("Running") and state.get("Pid"):
            pids.append(int(state["Pid"]))
    return pids


def drop_internal_default_routes(client: DockerClient, resolved: ResolvedTopology) -> None:
    """Deckies homed on a non-DMZ LAN get no default route (from the host, by pid)."""
    drop_default_route(internal_base_pids(client, resolved))


def reap_rules(firewall: Firewall, client: DockerClient, keep: Collection[str],
               within: Collection[str] | None = None) -> list[str]:
    """Remove the rules of topologies not kept whose containers are all gone (a topology
    whose teardown failed keeps its rules: its deckies stay contained)."""
    alive = {ctr.topology_id for ctr in observe_managed(client).containers if ctr.topology_id}
    return firewall.remove_unkept({*keep, *alive}, within)
