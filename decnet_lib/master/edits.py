"""Add, edit or remove one decky, or edit one LAN, of a stored topology (the API's routes
under `/topologies/{name}/deckies` and `/lans`).

While nothing of the topology is deployed (pending or torn down) the edit is applied to the
stored topology at once, through the same op and invariant checks as a mutation. While it is
live (active or degraded) it becomes one `add_decky`/`update_decky`/`remove_decky`/`update_lan`
mutation, checked against
the topology and its queue first (an edit that would fail is refused, one already there is
not queued again). During a deploy or teardown, or once failed, it is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Engine

from decnet_lib.db import load_resolved, lock_topology, neighbours, require_topology, save_resolved
from decnet_lib.db.status import SERVING_STATUSES, UNDEPLOYED_STATUSES
from decnet_lib.errors import DecnetError, Refused
from decnet_lib.master.database import write_session
from decnet_lib.master.mutations import enqueue_unless_there
from decnet_lib.mutations.payloads import PAYLOAD_MODELS
from decnet_lib.mutations.transform import already_there, apply_op

EditMode = Literal["direct", "mutation", "unchanged"]


@dataclass(frozen=True)
class EditResult:
    """How the edit was made: `direct` (the stored topology now), `mutation` (the queued
    mutation's view) or `unchanged` (its effect was already there or queued)."""

    mode: EditMode
    topology: dict[str, Any] | None = None
    mutation: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "topology": self.topology, "mutation": self.mutation}


def edit_decky(engine: Engine, name: str, decky: str, *, services: list[str] | None = None,
               patch: dict[str, Any] | None = None) -> EditResult:
    """Change a decky's services (the list is replaced) and/or merge `patch` into its config."""
    payload: dict[str, Any] = {"decky": decky}
    if services is not None:
        payload["services"] = services
    if patch is not None:
        payload["patch"] = patch
    return _edit(engine, name, "update_decky", payload)


def add_decky(engine: Engine, name: str, payload: dict[str, Any]) -> EditResult:
    """Add a decky (the `add_decky` payload: name, lan, services, archetype, ...)."""
    return _edit(engine, name, "add_decky", payload)


def remove_decky(engine: Engine, name: str, decky: str) -> EditResult:
    """Remove a decky (one already gone is `unchanged`)."""
    return _edit(engine, name, "remove_decky", {"decky": decky})


def payload_schema(op: str) -> dict[str, Any]:
    """The JSON Schema of an op's payload (what the API documents as the body)."""
    return PAYLOAD_MODELS[op].model_json_schema()


def edit_lan(engine: Engine, name: str, lan: str, patch: dict[str, Any]) -> EditResult:
    """Merge `patch` into a LAN (meta, driver, parent)."""
    return _edit(engine, name, "update_lan", {"name": lan, "patch": patch})


def _edit(engine: Engine, name: str, op: str, payload: dict[str, Any]) -> EditResult:
    with write_session(engine) as session:
        row = lock_topology(session, require_topology(session, name).id)
        status = row.status
        if status in UNDEPLOYED_STATUSES:
            context = neighbours(session, exclude_id=row.id, agent=row.agent)
            try:
                applied = apply_op(load_resolved(session, row), op, payload,
                                   validation_context=context)
            except DecnetError as exc:
                if already_there(op, exc):
                    return EditResult("unchanged", topology=load_resolved(session, row)
                                      .model_dump())
                if exc.code == "LAN_FROZEN":  # the op's wording speaks of live topologies
                    raise DecnetError(f"{name}: a LAN's subnet and DMZ flag are fixed once "
                                      "stored (delete and create the topology to change "
                                      "them)", code="LAN_FROZEN") from None
                raise
            if not applied.changed:
                return EditResult("unchanged", topology=applied.topology.model_dump())
            save_resolved(session, row, applied.topology)
            return EditResult("direct", topology=load_resolved(session, row).model_dump())
    if status not in SERVING_STATUSES:
        raise Refused(f"topology {name} is {status}: it can be edited while pending or torn "
                      "down (directly) or while active or degraded (as a mutation)",
                      status=status)
    found, view = enqueue_unless_there(engine, name, op, payload)
    if view is None:
        return EditResult("unchanged", topology=found.projected.model_dump())
    return EditResult("mutation", mutation=view)
