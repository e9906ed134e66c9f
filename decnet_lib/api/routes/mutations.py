"""`/api/v1/topologies/{name}/mutations`: list a topology's mutations, queue one."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import Engine

from decnet_lib.api.errors import responses
from decnet_lib.api.models import MutationRequest, MutationState, MutationView
from decnet_lib.api.security import current_caller
from decnet_lib.api.state import engine_of
from decnet_lib.master import mutations

router = APIRouter(prefix="/topologies/{name}/mutations", tags=["mutations"],
                   dependencies=[Depends(current_caller)])
EngineDep = Annotated[Engine, Depends(engine_of)]


@router.get("", response_model=list[MutationView], responses=responses(401, 404, 422))
def list_mutations(name: str, engine: EngineDep,
                   state: Annotated[MutationState | None, Query()] = None
                   ) -> list[dict[str, Any]]:
    """The topology's mutations, oldest first, optionally in one state."""
    return mutations.list_in(engine, name, state)


@router.post("", status_code=202, response_model=MutationView,
             responses=responses(401, 403, 404, 409, 413, 422))
def enqueue_mutation(name: str, body: MutationRequest, engine: EngineDep) -> dict[str, Any]:
    """Queue one op for an active or degraded topology (the reconciler applies it)."""
    return mutations.enqueue(engine, name, body.op, body.payload)
