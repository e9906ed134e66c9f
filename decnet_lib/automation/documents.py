"""Topology documents for the modules: read, validate, resolve against what is stored."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from decnet_lib.automation.errors import AutomationError
from decnet_lib.master.topologies import check_data
from decnet_lib.topology.document import TopologyDoc
from decnet_lib.topology.export import to_document
from decnet_lib.topology.hashing import canonical_hash
from decnet_lib.topology.loader import DocumentUnreadable, read_document_data
from decnet_lib.topology.resolve import resolve
from decnet_lib.topology.resolved import ResolvedTopology
from decnet_lib.validation.issues import Issue, has_errors
from decnet_lib.validation.validate import validate_data


def load_input(spec: Mapping[str, Any] | None = None, src: str | None = None) -> Any:
    """The document data: the inline `spec`, or the file `src` (YAML or JSON)."""
    if spec is not None and src is not None:
        raise AutomationError("give either spec or src, not both", code="USAGE")
    if spec is not None:
        return copy.deepcopy(dict(spec))
    if src is None:
        raise AutomationError("a topology document is needed: give spec or src", code="USAGE")
    try:
        return read_document_data(src)
    except DocumentUnreadable as exc:
        raise AutomationError(exc.message, code=exc.code) from None


def document_name(data: Any) -> str | None:
    """The topology name a document claims (None when it has none)."""
    name = data.get("name") if isinstance(data, dict) else None
    return name if isinstance(name, str) else None


def check_document(session: Session | None, data: Any) -> tuple[TopologyDoc, list[Issue]]:
    """Validate (against the other stored topologies when a session is given).

    Raises AutomationError(INVALID_TOPOLOGY) with every issue; returns the warnings.
    """
    doc, issues = check_data(session, data)
    if doc is None or has_errors(issues):
        errors = [issue for issue in issues if issue.severity == "error"]
        first = errors[0] if errors else "unknown problem"
        raise AutomationError(
            f"topology is invalid: {len(errors)} error(s), first: {first}",
            code="INVALID_TOPOLOGY", issues=[issue.to_dict() for issue in issues],
        )
    return doc, [issue for issue in issues if issue.severity != "error"]


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
