"""Mutation ops as pure functions on a copy of the resolved topology.

Each op returns True when it changed something and False when its effect is already there
(idempotence). Refusals raise OpRefused; the caller re-checks every invariant afterwards.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from ipaddress import IPv4Network
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from decnet_lib.catalog import ARCHETYPES
from decnet_lib.errors import DecnetError, InvalidTopology
from decnet_lib.mutations import payloads as p
from decnet_lib.mutations.merge_patch import merge_patch
from decnet_lib.mutations.payloads import (
    DECKY_PATCHABLE,
    LAN_FROZEN_WHILE_LIVE,
    LAN_PATCHABLE,
    BadPayload,
)
from decnet_lib.topology.addressing import Allocator, gateway_of, parse_ip, parse_subnet
from decnet_lib.topology.document import DEFAULT_EMULATION, DOMAIN_PATTERN, Emulation
from decnet_lib.topology.loader import schema_issues
from decnet_lib.topology.resolve import effective_services, image_map, new_id
from decnet_lib.topology.resolved import ResolvedDecky, ResolvedLan, ResolvedTopology

__all__ = ["DECKY_PATCHABLE", "DISPATCH", "LAN_FROZEN_WHILE_LIVE", "LAN_PATCHABLE",
           "OpContext", "OpRefused"]

DEFAULT_POOL = "172.20.0.0/14"


class _DeckyPatchable(BaseModel):
    """The shape the patchable decky fields must keep after a merge patch."""

    model_config = ConfigDict(extra="forbid", strict=True)

    forwards_l3: bool = False
    expose: bool | dict[str, str] = False
    service_config: dict[str, dict[str, Any]] = Field(default_factory=dict)
    images: dict[str, str] = Field(default_factory=dict)
    emulation: Emulation = DEFAULT_EMULATION
    domain: str | None = Field(default=None, pattern=DOMAIN_PATTERN, max_length=200)
    meta: dict[str, Any] = Field(default_factory=dict)
    resources: dict[str, Any] = Field(default_factory=dict)


class OpRefused(DecnetError):
    """The op cannot apply to this topology; `code` says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class OpContext:
    """What ops need from outside the topology: subnets other topologies use."""

    used_subnets: tuple[str, ...] = ()
    pool: str = DEFAULT_POOL
    extra: dict[str, Any] = field(default_factory=dict)


def _decky(topology: ResolvedTopology, name: str) -> ResolvedDecky:
    decky = topology.decky(name)
    if decky is None:
        raise OpRefused("NOT_FOUND", f"no decky named {name!r} in {topology.name}")
    return decky


def _lan(topology: ResolvedTopology, name: str) -> ResolvedLan:
    lan = topology.lan(name)
    if lan is None:
        raise OpRefused("NOT_FOUND", f"no LAN named {name!r} in {topology.name}")
    return lan


def _allocate(topology: ResolvedTopology, lan: ResolvedLan) -> str:
    network = parse_subnet(lan.subnet)
    assert network is not None  # stored topologies are valid
    taken = {int(ip) for d in topology.deckies
             if (ip := parse_ip(d.lans.get(lan.name, ""))) is not None}
    try:
        return str(Allocator(network, taken).allocate())
    except ValueError as exc:
        raise OpRefused("SUBNET_TOO_SMALL", str(exc)) from None


def _free_subnet(topology: ResolvedTopology, context: OpContext) -> str:
    used = [net for text in (*context.used_subnets, *(lan.subnet for lan in topology.lans))
            if (net := parse_subnet(text)) is not None]
    for candidate in IPv4Network(context.pool).subnets(new_prefix=24):
        if not any(candidate.overlaps(net) for net in used):
            return str(candidate)
    raise OpRefused("SUBNET_OVERLAP", f"no free /24 left in the pool {context.pool}")


def add_lan(topology: ResolvedTopology, payload: p.AddLan, context: OpContext) -> bool:
    existing = topology.lan(payload.name)
    if existing is not None:
        if existing.dmz == payload.dmz and payload.subnet in (None, existing.subnet):
            return False
        raise OpRefused("LAN_NAME_DUP", f"a different LAN named {payload.name!r} exists")
    subnet = payload.subnet or _free_subnet(topology, context)
    network = parse_subnet(subnet)
    gateway = str(gateway_of(network)) if network is not None else ""
    topology.lans.append(ResolvedLan(id=new_id(), name=payload.name, subnet=subnet,
                                     gateway=gateway, dmz=payload.dmz))
    return True


def remove_lan(topology: ResolvedTopology, payload: p.RemoveLan, context: OpContext) -> bool:
    if topology.lan(payload.name) is None:
        return False
    homed = [d.name for d in topology.deckies if d.home == payload.name]
    if homed:
        raise OpRefused("LAN_IS_HOME", f"LAN {payload.name} is the home of {homed[0]}"
                        f"{f' and {len(homed) - 1} more' if len(homed) > 1 else ''}")
    for decky in topology.deckies:
        decky.lans.pop(payload.name, None)
    topology.lans = [lan for lan in topology.lans if lan.name != payload.name]
    return True


def _shared_emulation(topology: ResolvedTopology) -> Emulation:
    """The emulation every decky of the topology uses, else the default (full)."""
    modes = {decky.emulation for decky in topology.deckies}
    return modes.pop() if len(modes) == 1 else DEFAULT_EMULATION


def _new_decky(topology: ResolvedTopology, payload: p.AddDecky) -> ResolvedDecky:
    lan = _lan(topology, payload.lan)
    services = effective_services(payload.archetype, payload.services or [])
    emulation = payload.emulation or _shared_emulation(topology)
    return ResolvedDecky(
        id=new_id(), name=payload.name, archetype=payload.archetype, services=services,
        lans={lan.name: payload.ip if payload.ip is not None else ""},
        forwards_l3=payload.forwards_l3,
        expose=payload.expose, service_config=copy.deepcopy(payload.service_config),
        images=image_map(services, {}, emulation), emulation=emulation,
    )


def add_decky(topology: ResolvedTopology, payload: p.AddDecky, context: OpContext) -> bool:
    wanted = _new_decky(topology, payload)
    existing = topology.decky(payload.name)
    if existing is not None:
        same = (existing.home == payload.lan
                and payload.ip in (None, existing.lans[payload.lan])
                and existing.services == wanted.services
                and (existing.forwards_l3, existing.expose, existing.service_config)
                == (wanted.forwards_l3, wanted.expose, wanted.service_config)
                and payload.emulation in (None, existing.emulation))
        if same:
            return False
        raise OpRefused("DECKY_NAME_DUP", f"a different decky named {payload.name!r} exists")
    if payload.ip is None:
        wanted.lans[payload.lan] = _allocate(topology, _lan(topology, payload.lan))
    topology.deckies.append(wanted)
    return True


def attach_decky(topology: ResolvedTopology, payload: p.AttachDecky, context: OpContext) -> bool:
    decky = _decky(topology, payload.decky)
    lan = _lan(topology, payload.lan)
    if lan.name in decky.lans:
        if payload.ip in (None, decky.lans[lan.name]):
            return False
        raise OpRefused("ALREADY_ATTACHED",
                        f"{decky.name} is on {lan.name} with {decky.lans[lan.name]}")
    # only an absent ip means "allocate"; a pinned "" is malformed (as in add_decky)
    decky.lans[lan.name] = payload.ip if payload.ip is not None else _allocate(topology, lan)
    return True


def detach_decky(topology: ResolvedTopology, payload: p.DetachDecky, context: OpContext) -> bool:
    decky = _decky(topology, payload.decky)
    if payload.lan not in decky.lans:
        return False
    if decky.home == payload.lan:
        raise OpRefused("LAN_IS_HOME", f"{payload.lan} is the home LAN of {decky.name}")
    del decky.lans[payload.lan]
    return True


def update_decky(topology: ResolvedTopology, payload: p.UpdateDecky, context: OpContext) -> bool:
    decky = _decky(topology, payload.decky)
    before = decky.model_dump()
    if payload.services is not None:
        services = list(dict.fromkeys(payload.services))
        archetype = ARCHETYPES.get(decky.archetype or "")
        if archetype is None or not set(archetype.services) <= set(services):
            decky.archetype = None
        decky.services = services
        kept = set(services)
        decky.service_config = {k: v for k, v in decky.service_config.items() if k in kept}
        overrides = {k: v for k, v in decky.images.items() if k in kept}
        decky.images = image_map(services, overrides, decky.emulation)
    if payload.patch is not None:
        try:
            p.check_patch_keys("update_decky", payload.patch, DECKY_PATCHABLE)
        except ValueError as exc:
            raise BadPayload(f"update_decky payload: patch: {exc}") from None
        current = {key: getattr(decky, key) for key in DECKY_PATCHABLE}
        merged = merge_patch(current, payload.patch)
        try:  # a wrongly typed value must fail loudly, never be coerced or dropped
            fields = _DeckyPatchable.model_validate(merged)
        except ValidationError as exc:
            issues = [replace(issue, target=f"deckies.{decky.name}.{issue.target}")
                      for issue in schema_issues(exc)]
            raise InvalidTopology(f"the change would break SCHEMA: {issues[0]}", issues) from None
        for key in DECKY_PATCHABLE:
            setattr(decky, key, getattr(fields, key))
        # images of services the decky does not run are kept so that the invariant check
        # reports them (SERVICE_CFG_UNDECLARED) instead of silently dropping them
        undeclared = {k: v for k, v in fields.images.items() if k not in decky.services}
        decky.images = {**image_map(decky.services, fields.images, decky.emulation),
                        **undeclared}
    return decky.model_dump() != before


def remove_decky(topology: ResolvedTopology, payload: p.RemoveDecky, context: OpContext) -> bool:
    _decky(topology, payload.decky)  # a missing decky is refused (NOT_FOUND), not "applied"
    topology.deckies = [d for d in topology.deckies if d.name != payload.decky]
    return True


def update_lan(topology: ResolvedTopology, payload: p.UpdateLan, context: OpContext) -> bool:
    lan = _lan(topology, payload.name)
    for key in LAN_FROZEN_WHILE_LIVE & set(payload.patch):
        if payload.patch[key] != getattr(lan, key):
            raise OpRefused("LAN_FROZEN", f"{key} of LAN {lan.name} cannot change while the "
                            "topology is live")
    try:
        p.check_patch_keys("update_lan", payload.patch, LAN_PATCHABLE | LAN_FROZEN_WHILE_LIVE)
    except ValueError as exc:
        raise BadPayload(f"update_lan payload: patch: {exc}") from None
    before = lan.model_dump()
    merged = merge_patch({key: getattr(lan, key) for key in LAN_PATCHABLE}, payload.patch)
    lan.meta = merged.get("meta", {})
    lan.driver = merged.get("driver", "bridge")
    lan.parent = merged.get("parent")
    return lan.model_dump(warnings=False) != before


Op = Callable[[ResolvedTopology, Any, OpContext], bool]

DISPATCH: dict[str, Op] = {
    "add_lan": add_lan,
    "remove_lan": remove_lan,
    "add_decky": add_decky,
    "attach_decky": attach_decky,
    "detach_decky": detach_decky,
    "update_decky": update_decky,
    "remove_decky": remove_decky,
    "update_lan": update_lan,
}
