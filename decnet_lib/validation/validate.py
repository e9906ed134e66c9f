"""Validation entry points: pure, every issue in one pass, linear in the document size."""

from __future__ import annotations

from collections import Counter
from typing import Any

from decnet_lib.issues import Code, Issue, error
from decnet_lib.topology.document import TopologyDoc
from decnet_lib.topology.loader import parse_document
from decnet_lib.topology.names import NAME_RULE, is_valid_name
from decnet_lib.topology.safe_yaml import gc_paused
from decnet_lib.validation import decky_rules, lan_rules
from decnet_lib.validation.context import EMPTY_CONTEXT, ValidationContext
from decnet_lib.validation.free_form import free_form_issues


def _check_names(doc: TopologyDoc) -> list[Issue]:
    issues = []
    named = [("name", doc.name, "topology")]
    named += [(f"lans[{i}].name", lan.name, "LAN") for i, lan in enumerate(doc.lans)]
    named += [(f"deckies[{i}].name", d.name, "decky") for i, d in enumerate(doc.deckies)]
    for target, name, kind in named:
        if not is_valid_name(name):
            issues.append(error(Code.NAME_INVALID, target,
                                f"{kind} name {name!r} is not allowed: {NAME_RULE}"))
    for kind, code, names in (
        ("lans", Code.LAN_NAME_DUP, [lan.name for lan in doc.lans]),
        ("deckies", Code.DECKY_NAME_DUP, [d.name for d in doc.deckies]),
    ):
        seen: set[str] = set()
        for index, name in enumerate(names):
            if name in seen:
                issues.append(error(code, f"{kind}[{index}].name", f"{name!r} is used twice"))
            seen.add(name)
    return issues


def validate_document(
    doc: TopologyDoc, context: ValidationContext = EMPTY_CONTEXT
) -> list[Issue]:
    """Every issue of a parsed document, errors and warnings, in one pass."""
    with gc_paused():  # many small objects, no cycles: the collector would only rescan them
        return _all_issues(doc, context)


def _all_issues(doc: TopologyDoc, context: ValidationContext) -> list[Issue]:
    issues = _check_names(doc)
    issues += lan_rules.check_dmz(doc.lans)
    for index, lan in enumerate(doc.lans):
        issues += lan_rules.check_driver(lan)
        if lan.meta:
            issues += free_form_issues(lan.meta, f"lans[{index}].meta")
    networks = lan_rules.parse_subnets(doc.lans, issues)
    lan_names = {lan.name for lan in doc.lans}
    dmz_names = {lan.name for lan in doc.lans if lan.dmz}
    members: Counter[str] = Counter()
    addresses = decky_rules.AddressBook(networks, lan_names)
    ports = decky_rules.PortBook(context)
    for index, decky in enumerate(doc.deckies):
        members.update(lan for lan in decky.lans if lan in lan_names)
        issues += addresses.check(decky, index)
        services, service_issues = decky_rules.check_services(decky)
        issues += service_issues
        issues += decky_rules.check_service_config(decky, services)
        issues += ports.check(decky, services, dmz_names, index)
        if decky.meta:
            issues += free_form_issues(decky.meta, f"deckies[{index}].meta")
    issues += lan_rules.check_capacity(networks, members)
    issues += lan_rules.check_overlaps(networks, context)
    issues += lan_rules.check_reachability(
        doc.lans, (list(d.lans) for d in doc.deckies), members
    )
    issues += lan_rules.check_empty(doc.lans, members)
    return issues


def validate_data(
    data: Any, context: ValidationContext = EMPTY_CONTEXT
) -> tuple[TopologyDoc | None, list[Issue]]:
    """Parse decoded YAML/JSON data and validate it; the document is None on SCHEMA errors."""
    with gc_paused():  # a large document allocates many objects and no cycles
        doc, issues = parse_document(data)
    if doc is None:
        issues += _raw_name_issues(data)
        return None, issues
    return doc, issues + validate_document(doc, context)


def _raw_name_issues(data: Any) -> list[Issue]:
    """NAME_INVALID for the topology name even when the shape is broken elsewhere."""
    name = data.get("name") if isinstance(data, dict) else None
    if isinstance(name, str) and not is_valid_name(name):
        return [error(Code.NAME_INVALID, "name",
                      f"topology name {name!r} is not allowed: {NAME_RULE}")]
    return []
