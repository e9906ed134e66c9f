"""Apply one op to a resolved topology: dispatch, then re-check every invariant."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from decnet_lib.mutations.invariants import ensure_invariants
from decnet_lib.mutations.ops import DISPATCH, OpContext
from decnet_lib.mutations.payloads import parse_payload
from decnet_lib.topology.hashing import canonical_hash
from decnet_lib.topology.resolved import ResolvedTopology
from decnet_lib.validation.context import EMPTY_CONTEXT, ValidationContext


@dataclass(frozen=True, slots=True)
class Applied:
    """The outcome of an op: the new topology and whether anything changed."""

    topology: ResolvedTopology
    changed: bool


def _with_neighbours(
    op_context: OpContext | None, validation_context: ValidationContext
) -> OpContext:
    """Subnets of live neighbours are used too: an auto subnet must never overlap them."""
    context = op_context or OpContext()
    neighbour_subnets = tuple(
        subnet for neighbour in validation_context.neighbours for subnet in neighbour.subnets
    )
    if not neighbour_subnets:
        return context
    return replace(context, used_subnets=(*context.used_subnets, *neighbour_subnets))


def apply_op(
    topology: ResolvedTopology,
    op: str,
    payload: Any,
    op_context: OpContext | None = None,
    validation_context: ValidationContext = EMPTY_CONTEXT,
) -> Applied:
    """Apply `op` to a copy of `topology`; the original is never modified.

    Raises BadPayload, OpRefused or InvalidTopology (with every broken rule).
    """
    typed = parse_payload(op, payload)
    candidate = topology.model_copy(deep=True)
    changed = DISPATCH[op](candidate, typed, _with_neighbours(op_context, validation_context))
    if not changed:
        return Applied(topology, False)
    ensure_invariants(candidate, validation_context)
    candidate.hash = canonical_hash(candidate.model_dump())
    return Applied(candidate, True)


def already_there(op: str, error: Exception) -> bool:
    """Is this refusal the op's effect being there already (what an idempotent caller such
    as the Ansible module reports as `changed: false`)? Removing a decky that is gone."""
    return op == "remove_decky" and getattr(error, "code", "") == "NOT_FOUND"
