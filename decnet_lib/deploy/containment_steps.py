"""Where containment meets a deploy: which subnets to hold, what is done in the deckies'
namespaces after they start, and which topologies' rules the reaper may remove.

Order (see Deployer.apply): the rules of every subnet the topology has or is about to have
are in place before a container starts; a LAN being removed keeps its rules until its
containers are gone; rules go after the last container of their topology.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from docker import DockerClient
from docker.errors import NotFound

from decnet_lib.deploy.containment import Firewall, drop_default_route
from decnet_lib.deploy.naming import base_container_name
from decnet_lib.deploy.netns_guard import install_guard
from decnet_lib.deploy.observed import observe_managed
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


def base_pids(client: DockerClient, resolved: ResolvedTopology,
              deckies: Collection[str]) -> list[int]:
    """Pids of the running base containers of these deckies."""
    pids = []
    for decky in deckies:
        try:
            state = client.api.inspect_container(
                base_container_name(resolved.id, decky))["State"]
        except NotFound:
            continue
        if state.get("Running") and state.get("Pid"):
            pids.append(int(state["Pid"]))
    return pids


def internal_deckies(resolved: ResolvedTopology) -> list[str]:
    """Deckies homed on a non-DMZ LAN: they get no default route."""
    dmz = {lan.name for lan in resolved.lans if lan.dmz}
    return [d.name for d in resolved.deckies if d.lans and d.home not in dmz]


def l2_deckies(resolved: ResolvedTopology) -> list[str]:
    """Deckies on a macvlan/ipvlan LAN: their egress is guarded in their own namespace."""
    l2 = {lan.name for lan in resolved.lans if lan.driver != "bridge"}
    return [d.name for d in resolved.deckies if l2.intersection(d.lans)]


def after_start(client: DockerClient, resolved: ResolvedTopology) -> None:
    """From the host, in the deckies' namespaces: no default route on internal deckies,
    the egress guard on deckies of macvlan/ipvlan LANs. Idempotent."""
    drop_default_route(base_pids(client, resolved, internal_deckies(resolved)))
    for pid in base_pids(client, resolved, l2_deckies(resolved)):
        install_guard(pid, subnets(resolved))


def reap_rules(firewall: Firewall, client: DockerClient, keep: Collection[str],
               within: Collection[str] | None = None) -> list[str]:
    """Remove the rules of topologies not kept whose containers are all gone (a topology
    whose teardown failed keeps its rules: its deckies stay contained)."""
    alive = {ctr.topology_id for ctr in observe_managed(client).containers if ctr.topology_id}
    return firewall.remove_unkept({*keep, *alive}, within)


@dataclass
class AroundDeploy:
    """Containment around one apply: `before` any container starts, `after` execute."""

    firewall: Firewall
    client: DockerClient
    resolved: ResolvedTopology
    plan: Plan

    def before(self) -> None:
        """Rules for every subnet the topology has or is losing (only when they differ)."""
        during = subnets_during(self.resolved, self.plan)
        if self.plan.firewall or during != subnets(self.resolved):
            self.firewall.apply(self.resolved.id, during)

    def after(self, execute_failed: bool) -> None:
        """Drop the rules of removed LANs (once their containers are surely gone), then
        the per-namespace steps (after_start)."""
        final = subnets(self.resolved)
        if not execute_failed and subnets_during(self.resolved, self.plan) != final:
            self.firewall.apply(self.resolved.id, final)
        after_start(self.client, self.resolved)
