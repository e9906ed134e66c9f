"""The plan: desired state against what Docker has (found by label). Pure, no Docker.

Rules: an object is matched by name among the topology's labelled objects; the same spec
hash means unchanged, a different one means recreate, and so does a container whose image
name now points to another image (rebuilt under the same tag); a labelled object the
desired state does not name (renamed, half-deployed, removed from the topology) is
removed; the services of a base that is created or recreated are recreated too. A container
with the right hash that is not running is started again; when that is a base, its running
services are restarted too (they joined the base's old network namespace).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from decnet_lib.deploy.naming import object_name, topo8
from decnet_lib.deploy.observed import Observed, ObservedContainer, ObservedNetwork
from decnet_lib.deploy.spec import ContainerSpec, DesiredState, NetworkSpec

STARTABLE = frozenset({"created", "exited"})
BROKEN = frozenset({"dead", "removing"})


@dataclass(frozen=True)
class Plan:
    """What to do to make Docker match one topology."""

    topology_id: str
    topology_name: str = ""
    create_networks: list[NetworkSpec] = field(default_factory=list)
    recreate_networks: list[tuple[ObservedNetwork, NetworkSpec]] = field(default_factory=list)
    remove_networks: list[ObservedNetwork] = field(default_factory=list)
    create_containers: list[ContainerSpec] = field(default_factory=list)
    recreate_containers: list[tuple[ObservedContainer, ContainerSpec]] = field(
        default_factory=list
    )
    remove_containers: list[ObservedContainer] = field(default_factory=list)
    start_containers: list[ContainerSpec] = field(default_factory=list)
    restart_containers: list[ContainerSpec] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    image_ids: Mapping[str, str] = field(default_factory=dict)  # image name -> current id
    firewall: str | None = None  # containment rules: 'create', 'update' or None (in place)

    # -- what the executor needs -------------------------------------------------------
    def network_removals(self) -> list[ObservedNetwork]:
        return [*self.remove_networks, *(old for old, _ in self.recreate_networks)]

    def network_creations(self) -> list[NetworkSpec]:
        return [*self.create_networks, *(new for _, new in self.recreate_networks)]

    def container_removals(self) -> list[ObservedContainer]:
        return [*self.remove_containers, *(old for old, _ in self.recreate_containers)]

    def container_creations(self) -> list[ContainerSpec]:
        return [*self.create_containers, *(new for _, new in self.recreate_containers)]

    @property
    def changed(self) -> bool:
        """True when applying this plan would change anything."""
        return any((
            self.create_networks, self.recreate_networks, self.remove_networks,
            self.create_containers, self.recreate_containers, self.remove_containers,
            self.start_containers, self.restart_containers, self.firewall,
        ))

    @property
    def steps(self) -> int:
        """Number of Docker object operations the plan needs (for progress totals)."""
        return (
            len(self.network_removals()) + len(self.network_creations())
            + len(self.container_removals()) + len(self.container_creations())
            + len(self.start_containers) + len(self.restart_containers)
        )

    def summary(self) -> dict[str, Any]:
        """Counts per object kind and action, plus `changed`."""
        return {
            "changed": self.changed,
            "networks": {
                "create": len(self.create_networks),
                "recreate": len(self.recreate_networks),
                "remove": len(self.remove_networks),
            },
            "containers": {
                "create": len(self.create_containers),
                "recreate": len(self.recreate_containers),
                "remove": len(self.remove_containers),
                "start": len(self.start_containers),
                "restart": len(self.restart_containers),
            },
            "unchanged": len(self.unchanged),
            "firewall": self.firewall,
        }

    def to_dict(self) -> dict[str, Any]:
        """Names per action: what `--dry-run --json` and check mode report."""
        return {
            "topology_id": self.topology_id,
            "summary": self.summary(),
            "create": [s.name for s in (*self.create_networks, *self.create_containers)],
            "recreate": [s.name for _, s in (*self.recreate_networks, *self.recreate_containers)],
            "remove": [o.name for o in (*self.remove_networks, *self.remove_containers)],
            "start": [s.name for s in self.start_containers],
            "restart": [s.name for s in self.restart_containers],
            "unchanged": list(self.unchanged),
        }

    def render(self) -> str:
        """Human-readable plan for `--dry-run`: one line per change."""
        s = self.summary()
        nets, ctrs = s["networks"], s["containers"]
        head = (
            f"Plan for topology {self.topology_name or '?'} ({topo8(self.topology_id)}): "
            f"networks +{nets['create']} ~{nets['recreate']} -{nets['remove']}, "
            f"containers +{ctrs['create']} ~{ctrs['recreate']} -{ctrs['remove']} "
            f">{ctrs['start'] + ctrs['restart']}, {s['unchanged']} unchanged"
        )
        lines = [head]
        if self.firewall:
            lines.append(f"  {'+' if self.firewall == 'create' else '~'} firewall  "
                         f"containment rules of {topo8(self.topology_id)} ({self.firewall})")
        for net in self.create_networks:
            lines.append(f"  + network   {net.name}  {_net_text(net)}")
        for _, net in self.recreate_networks:
            lines.append(f"  ~ network   {net.name}  {_net_text(net)} (spec changed)")
        for old in self.remove_networks:
            lines.append(f"  - network   {old.name}  (not in the topology)")
        prefix = object_name(self.topology_id, "")
        for spec in self.create_containers:
            lines.append(f"  + {spec.role:<9} {spec.name}  {_ctr_text(spec, prefix)}")
        for old, spec in self.recreate_containers:
            text = _ctr_text(spec, prefix)
            lines.append(f"  ~ {spec.role:<9} {spec.name}  {text} "
                         f"({recreate_reason(old, spec, self.image_ids)})")
        for ctr in self.remove_containers:
            lines.append(f"  - {ctr.role or 'container':<9} {ctr.name}  (not in the topology)")
        for spec in self.start_containers:
            lines.append(f"  > {spec.role:<9} {spec.name}  (start: not running)")
        for spec in self.restart_containers:
            lines.append(f"  > {spec.role:<9} {spec.name}  (restart: its base restarts)")
        if not self.changed:
            lines.append("  nothing to do")
        return "\n".join(lines)


def _net_text(net: NetworkSpec) -> str:
    kind = "dmz" if not net.internal else "internal"
    parent = f" parent={net.options['parent']}" if "parent" in net.options else ""
    return f"{net.subnet} {kind} {net.driver}{parent}"


def _ctr_text(spec: ContainerSpec, prefix: str) -> str:
    if spec.role == "service":
        return spec.image
    ips = " ".join(f"{net.removeprefix(prefix)}={ip}" for net, ip in spec.networks)
    return f"{spec.image} {ips}".rstrip()


def _plan_networks(desired: DesiredState, observed: Observed, plan: Plan) -> None:
    by_name: dict[str, list[ObservedNetwork]] = {}
    for net in observed.networks:
        by_name.setdefault(net.name, []).append(net)
    for name, spec in desired.networks.items():
        candidates = by_name.pop(name, [])
        keep = next((n for n in candidates if n.spec_hash == spec.spec_hash), None)
        if keep is not None:
            plan.unchanged.append(name)
        elif candidates:
            keep = candidates[0]
            plan.recreate_networks.append((keep, spec))
        else:
            plan.create_networks.append(spec)
        # duplicates of one name (an old engine allowed them): keep one, remove the rest
        plan.remove_networks.extend(n for n in candidates if n is not keep)
    for leftovers in by_name.values():
        plan.remove_networks.extend(leftovers)


def image_moved(ctr: ObservedContainer, spec: ContainerSpec,
                image_ids: Mapping[str, str]) -> bool:
    """Does the container's image name now point to another image than it runs?"""
    current = image_ids.get(spec.image)
    return bool(current and ctr.image_id and ctr.image_id != current)


def _outdated(ctr: ObservedContainer, spec: ContainerSpec, image_ids: Mapping[str, str]) -> bool:
    return (ctr.spec_hash != spec.spec_hash or ctr.state in BROKEN
            or image_moved(ctr, spec, image_ids))


def recreate_reason(ctr: ObservedContainer, spec: ContainerSpec,
                    image_ids: Mapping[str, str]) -> str:
    """Why a container is recreated, for the rendered plan."""
    if ctr.spec_hash != spec.spec_hash:
        return "spec changed"
    if ctr.state in BROKEN:
        return f"container {ctr.state}"
    if image_moved(ctr, spec, image_ids):
        return f"{spec.image} was rebuilt"
    return "its base is recreated"


def _plan_containers(desired: DesiredState, observed: Observed, plan: Plan) -> None:
    by_name = {ctr.name: ctr for ctr in observed.containers}
    images = plan.image_ids
    new_bases = {
        spec.name
        for spec in desired.bases()
        if (ctr := by_name.get(spec.name)) is None or _outdated(ctr, spec, images)
    }
    started_bases: set[str] = set()
    running_unchanged: list[ContainerSpec] = []
    for name, spec in desired.containers.items():
        ctr = by_name.pop(name, None)
        if ctr is None:
            plan.create_containers.append(spec)
        elif _outdated(ctr, spec, images) or spec.base in new_bases:
            # a service joined its base's namespace by id: a new base needs new services
            plan.recreate_containers.append((ctr, spec))
        elif ctr.state in STARTABLE:
            plan.start_containers.append(spec)
            if spec.role == "base":
                started_bases.add(spec.name)
        else:
            running_unchanged.append(spec)
    for spec in running_unchanged:
        if spec.base is not None and spec.base in started_bases:
            plan.restart_containers.append(spec)
        else:
            plan.unchanged.append(spec.name)
    plan.remove_containers.extend(by_name.values())


def diff(desired: DesiredState, observed: Observed,
         image_ids: Mapping[str, str] | None = None) -> Plan:
    """The plan that turns `observed` into `desired` (a pure function).

    `image_ids` maps image names to the id each points to now (see
    observe.local_image_ids); without it, rebuilt images are not noticed.
    """
    plan = Plan(desired.topology_id, desired.topology_name, image_ids=dict(image_ids or {}))
    _plan_networks(desired, observed, plan)
    _plan_containers(desired, observed, plan)
    return plan
