"""A mutation as shown to users (CLI --json, Ansible results)."""

from __future__ import annotations

from typing import Any

from decnet_lib.db import Mutation


def mutation_view(mutation: Mutation) -> dict[str, Any]:
    """Id, op, payload, state, attempts, claimer, timestamps (ISO 8601) and error."""
    return {
        "id": mutation.id,
        "op": mutation.op,
        "payload": mutation.payload,
        "state": mutation.state,
        "attempts": mutation.attempts,
        "claimed_by": mutation.claimed_by,
        "created_at": mutation.created_at.isoformat() if mutation.created_at else None,
        "finished_at": mutation.finished_at.isoformat() if mutation.finished_at else None,
        "error": mutation.error,
    }
