"""Hard invariants: after every op the topology must still validate without errors."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from decnet_lib.catalog import ARCHETYPES
from decnet_lib.errors import InvalidTopology
from decnet_lib.topology.document import TopologyDoc
from decnet_lib.topology.export import to_document
from decnet_lib.topology.loader import schema_issues
from decnet_lib.topology.resolved import ResolvedTopology
from decnet_lib.validation.context import EMPTY_CONTEXT, ValidationContext
from decnet_lib.validation.issues import Issue
from decnet_lib.validation.validate import validate_document


def _shape_errors(topology: ResolvedTopology) -> list[Issue]:
    """SCHEMA issues for fields an op set to a wrongly typed value (models are not
    validated on assignment, and the export drops falsy values such as `meta: 0`)."""
    try:
        ResolvedTopology.model_validate(topology.model_dump(warnings=False), strict=True)
    except ValidationError as exc:
        return schema_issues(exc)
    return []


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
    return [issue for issue in validate_document(doc, context) if issue.severity == "error"]


def ensure_invariants(
    topology: ResolvedTopology, context: ValidationContext = EMPTY_CONTEXT
) -> None:
    """Raise InvalidTopology naming every broken rule."""
    errors = invariant_errors(topology, context)
    if errors:
        codes = ", ".join(sorted({issue.code for issue in errors}))
        raise InvalidTopology(f"the change would break {codes}: {errors[0]}", errors)
