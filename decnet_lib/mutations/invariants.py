"""Hard invariants: after every op the topology must still validate without errors."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from decnet_lib.catalog import ARCHETYPES
from decnet_lib.errors import InvalidTopology
from decnet_lib.issues import Code, Issue, error
from decnet_lib.topology.addressing import gateway_of, parse_ip, parse_subnet
from decnet_lib.topology.document import TopologyDoc
from decnet_lib.topology.export import to_document
from decnet_lib.topology.loader import schema_issues
from decnet_lib.topology.resolved import ResolvedTopology
from decnet_lib.validation.context import EMPTY_CONTEXT, ValidationContext
from decnet_lib.validation.validate import validate_document


def _shape_errors(topology: ResolvedTopology) -> list[Issue]:
    """SCHEMA issues for fields an op set to a wrongly typed value (models are not
    validated on assignment, and the export drops falsy values such as `meta: 0`)."""
    try:
        ResolvedTopology.model_validate(topology.model_dump(warnings=False), strict=True)
    except ValidationError as exc:
        return schema_issues(exc)
    return []


def gateway_errors(topology: ResolvedTopology) -> list[Issue]:
    """Each LAN's gateway (only in the resolved form) is a usable address of its subnet that
    no decky holds."""
    taken: dict[tuple[str, str], str] = {}
    for decky in topology.deckies:
        for lan_name, ip in decky.lans.items():
            taken[(lan_name, ip)] = decky.name
    issues = []
    for lan in topology.lans:
        target = f"lans.{lan.name}.gateway"
        network, gateway = parse_subnet(lan.subnet), parse_ip(lan.gateway)
        if network is None:
            continue  # SUBNET_MALFORMED says it
        if gateway is None:
            issues.append(error(Code.IP_MALFORMED, target,
                                f"gateway {lan.gateway!r} is not an IPv4 address"))
        elif gateway not in network:
            issues.append(error(Code.IP_OUT_OF_SUBNET, target,
                                f"gateway {gateway} is outside {network}"))
        elif gateway in (network.network_address, network.broadcast_address):
            issues.append(error(Code.IP_RESERVED, target,
                                f"gateway {gateway} is the network or broadcast address"))
        elif gateway != gateway_of(network) and (lan.name, str(gateway)) in taken:
            # (a decky on the default gateway address is IP_RESERVED already)
            issues.append(error(Code.IP_COLLISION, target, f"gateway {gateway} is held by "
                                f"decky {taken[(lan.name, str(gateway))]}"))
    return issues


def _checked_document(topology: ResolvedTopology) -> dict[str, Any]:
    """The export, plus what the export leaves out but validation must still see."""
    data = to_document(topology)
    for item, lan in zip(data["lans"], topology.lans, strict=True):
        if lan.parent is not None:  # the export omits a bridge's parent
            item["parent"] = lan.parent
    for entry, decky in zip(data["deckies"], topology.deckies, strict=True):
        if decky.archetype is not None and decky.archetype not in ARCHETYPES:
            entry["archetype"] = decky.archetype  # the export omits unknown archetypes
    return data


def invariant_errors(
    topology: ResolvedTopology, context: ValidationContext = EMPTY_CONTEXT
) -> list[Issue]:
    """Every error issue of the topology (warnings such as LAN_EMPTY are allowed)."""
    shape = _shape_errors(topology)
    if shape:
        return shape
    try:
        doc = TopologyDoc.model_validate(_checked_document(topology))
    except ValidationError as exc:
        return schema_issues(exc)
    issues = [issue for issue in validate_document(doc, context) if issue.severity == "error"]
    return issues + gateway_errors(topology)


def ensure_invariants(
    topology: ResolvedTopology, context: ValidationContext = EMPTY_CONTEXT
) -> None:
    """Raise InvalidTopology naming every broken rule."""
    errors = invariant_errors(topology, context)
    if errors:
        codes = ", ".join(sorted({issue.code for issue in errors}))
        raise InvalidTopology(f"the change would break {codes}: {errors[0]}", errors)
