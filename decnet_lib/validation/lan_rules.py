"""Rules about LANs: names, the DMZ, subnets (shape, size, overlap) and reachability."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from ipaddress import IPv4Network

from decnet_lib.issues import Code, Issue, error, warning
from decnet_lib.topology.addressing import (
    MIN_PREFIX,
    parse_subnet,
    reserved_overlap,
    usable_count,
)
from decnet_lib.topology.document import LanDoc
from decnet_lib.validation.context import ValidationContext


def lan_target(lan: LanDoc, field: str | None = None) -> str:
    base = f"lans.{lan.name}"
    return f"{base}.{field}" if field else base


def check_dmz(lans: list[LanDoc]) -> list[Issue]:
    """Exactly one LAN is the DMZ."""
    dmz = [lan for lan in lans if lan.dmz]
    if not dmz:
        return [error(Code.DMZ_MISSING, "lans", "no LAN is marked dmz: true")]
    return [
        error(Code.DMZ_MULTIPLE, lan_target(lan, "dmz"), f"LAN {lan.name} is a second DMZ "
              f"(the first is {dmz[0].name})")
        for lan in dmz[1:]
    ]


def check_driver(lan: LanDoc) -> list[Issue]:
    """macvlan/ipvlan need a parent interface; a bridge takes none."""
    if lan.driver != "bridge" and not lan.parent:
        return [error(Code.SCHEMA, lan_target(lan, "parent"),
                      f"driver {lan.driver} needs a parent interface")]
    if lan.driver == "bridge" and lan.parent:
        return [error(Code.SCHEMA, lan_target(lan, "parent"),
                      "parent is only used by the macvlan and ipvlan drivers")]
    return []


def parse_subnets(lans: list[LanDoc], issues: list[Issue]) -> dict[str, IPv4Network]:
    """Parse every LAN's subnet, reporting SUBNET_MALFORMED and SUBNET_TOO_SMALL."""
    networks: dict[str, IPv4Network] = {}
    for lan in lans:
        network = parse_subnet(lan.subnet)
        if network is None:
            issues.append(error(Code.SUBNET_MALFORMED, lan_target(lan, "subnet"),
                                f"{lan.subnet!r} is not an IPv4 network in CIDR form "
                                "with zero host bits"))
            continue
        if network.prefixlen > MIN_PREFIX:
            issues.append(error(Code.SUBNET_TOO_SMALL, lan_target(lan, "subnet"),
                                f"{network} is smaller than /{MIN_PREFIX}"))
            continue
        reserved = reserved_overlap(network)
        if reserved is not None:
            issues.append(error(Code.SUBNET_RESERVED, lan_target(lan, "subnet"),
                                f"{network} overlaps the {reserved} range"))
            continue
        networks.setdefault(lan.name, network)
    return networks


def check_capacity(
    networks: Mapping[str, IPv4Network], members: Mapping[str, int]
) -> list[Issue]:
    """A LAN must have an address for each of its deckies."""
    issues = []
    for name, network in networks.items():
        count = members.get(name, 0)
        if count > usable_count(network):
            issues.append(error(Code.SUBNET_TOO_SMALL, f"lans.{name}.subnet",
                                f"{network} has {usable_count(network)} usable addresses "
                                f"for {count} deckies"))
    return issues


def check_overlaps(
    networks: Mapping[str, IPv4Network], context: ValidationContext
) -> list[Issue]:
    """No two subnets overlap, ours or a live neighbour's on the same agent (n log n)."""
    spans: list[tuple[int, int, str, bool]] = [
        (int(net.network_address), int(net.broadcast_address), f"LAN {name}", True)
        for name, net in networks.items()
    ]
    for neighbour in context.neighbours:
        for text in neighbour.subnets:
            net = parse_subnet(text)
            if net is not None:
                spans.append((int(net.network_address), int(net.broadcast_address),
                              f"topology {neighbour.name}", False))
    spans.sort()
    issues = []
    widest: tuple[int, int, str, bool] | None = None
    for span in spans:
        if widest is not None and span[0] <= widest[1] and (span[3] or widest[3]):
            ours, other = (span, widest) if span[3] else (widest, span)
            lan_name = ours[2].removeprefix("LAN ")
            issues.append(error(Code.SUBNET_OVERLAP, f"lans.{lan_name}.subnet",
                                f"{networks[lan_name]} overlaps {other[2]}"))
        if widest is None or span[1] > widest[1]:
            widest = span
    return issues


def check_empty(lans: Iterable[LanDoc], members: Mapping[str, int]) -> list[Issue]:
    """Warn about LANs with no decky."""
    return [
        warning(Code.LAN_EMPTY, lan_target(lan), f"LAN {lan.name} has no decky")
        for lan in lans
        if not members.get(lan.name)
    ]


def check_reachability(
    lans: list[LanDoc], decky_lans: Iterable[list[str]], members: Mapping[str, int]
) -> list[Issue]:
    """Every LAN with deckies is connected to the DMZ through bridge deckies."""
    parent = {lan.name: lan.name for lan in lans}

    def find(name: str) -> str:
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    for names in decky_lans:
        known = [name for name in names if name in parent]
        for other in known[1:]:
            parent[find(other)] = find(known[0])
    roots = {find(lan.name) for lan in lans if lan.dmz}
    if not roots:
        return []  # DMZ_MISSING already says it
    return [
        error(Code.LAN_UNREACHABLE, lan_target(lan),
              f"LAN {lan.name} is not connected to the DMZ through bridge deckies")
        for lan in lans
        if not lan.dmz and members.get(lan.name) and find(lan.name) not in roots
    ]
