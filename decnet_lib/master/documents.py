"""Topology documents against what is stored: validate, resolve keeping ids and addresses.

Cheap to import (no database): `decnet topology validate` without a database uses it.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from decnet_lib.errors import InvalidTopology
from decnet_lib.issues import Issue, has_errors
from decnet_lib.topology.document import TopologyDoc
from decnet_lib.topology.export import to_document
from decnet_lib.topology.hashing import canonical_hash
from decnet_lib.topology.resolve import resolve
from decnet_lib.topology.resolved import ResolvedTopology
from decnet_lib.validation.validate import validate_data

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def check_data(session: Session | None, data: Any) -> tuple[TopologyDoc | None, list[Issue]]:
    """Validate decoded document data, against the other live topologies when a DB is given."""
    if session is None:
        return validate_data(data)
    from decnet_lib.db import get_topology, neighbours

    name = document_name(data)
    existing = get_topology(session, name) if name is not None else None
    context = neighbours(session, exclude_id=existing.id if existing else None)
    return validate_data(data, context)


def document_name(data: Any) -> str | None:
    """The topology name a document claims (None when it has none)."""
    name = data.get("name") if isinstance(data, dict) else None
    return name if isinstance(name, str) else None


def check_document(session: Session | None, data: Any) -> tuple[TopologyDoc, list[Issue]]:
    """Validate (against the other stored topologies when a session is given).

    Raises InvalidTopology with every issue; returns the warnings.
    """
    doc, issues = check_data(session, data)
    if doc is None or has_errors(issues):
        raise invalid(issues)
    return doc, [issue for issue in issues if issue.severity != "error"]


def invalid(issues: list[Issue]) -> InvalidTopology:
    """The error for a document with errors: their count, the first, and every issue."""
    errors = [issue for issue in issues if issue.severity == "error"]
    first = errors[0] if errors else "unknown problem"
    return InvalidTopology(f"topology is invalid: {len(errors)} error(s), first: {first}", issues)


def _pin_stored_addresses(data: dict[str, Any], stored: ResolvedTopology) -> dict[str, Any]:
    """The document with each unpinned address (null) taken from the stored topology.

    A stored address is only reused when the document pins it nowhere else on that LAN, so
    an unchanged document resolves to exactly the stored topology.
    """
    data = copy.deepcopy(data)
    deckies = [d for d in data.get("deckies") or [] if isinstance(d, dict)]
    pinned: dict[str, set[str]] = {}
    for decky in deckies:
        lans = decky.get("lans")
        if isinstance(lans, dict):
            for lan, ip in lans.items():
                if isinstance(ip, str):
                    pinned.setdefault(lan, set()).add(ip)
    for decky in deckies:
        lans = decky.get("lans")
        old = stored.decky(decky["name"]) if isinstance(decky.get("name"), str) else None
        if old is None or not isinstance(lans, dict):
            continue
        for lan, ip in lans.items():
            previous = old.lans.get(lan)
            if ip is None and previous and previous not in pinned.get(lan, set()):
                lans[lan] = previous
                pinned.setdefault(lan, set()).add(previous)
    return data


def desired_topology(data: Any, doc: TopologyDoc, stored: ResolvedTopology | None
                     ) -> ResolvedTopology:
    """The resolved form the document asks for.

    Against a stored topology it keeps the stored id, the ids of LANs and deckies of the
    same name, and the stored addresses wherever the document leaves one to allocate:
    an unchanged document has exactly the stored canonical hash.
    """
    if stored is not None and isinstance(data, dict):
        overlay, issues = validate_data(_pin_stored_addresses(data, stored))
        if overlay is not None and not has_errors(issues):
            doc = overlay
    resolved = resolve(doc, topology_id=stored.id if stored else None)
    if stored is not None:
        for lan in resolved.lans:
            if (old_lan := stored.lan(lan.name)) is not None:
                lan.id = old_lan.id
        for decky in resolved.deckies:
            if (old_decky := stored.decky(decky.name)) is not None:
                decky.id = old_decky.id
        resolved.status = stored.status
    resolved.hash = canonical_hash(resolved.model_dump())
    return resolved


def as_document(topology: ResolvedTopology | None) -> dict[str, Any]:
    """The diff view of a topology: its document with every IP pinned ({} for none)."""
    return to_document(topology) if topology is not None else {}
