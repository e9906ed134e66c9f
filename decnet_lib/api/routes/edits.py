"""Deckies and LANs of one topology: `POST .../deckies`, `PATCH|DELETE .../deckies/{decky}`,
`PATCH .../lans/{lan}`. A direct change while the topology is pending or torn down; one
`add_decky`/`update_decky`/`remove_decky`/`update_lan` mutation while it is live."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Response
from sqlalchemy import Engine

from decnet_lib.api.errors import responses
from decnet_lib.api.models import DeckyEdit, EditOutcome, LanEdit
from decnet_lib.api.security import current_caller
from decnet_lib.api.state import engine_of
from decnet_lib.master import edits
from decnet_lib.master.edits import EditResult

router = APIRouter(prefix="/topologies/{name}", tags=["edits"],
                   dependencies=[Depends(current_caller)])
EngineDep = Annotated[Engine, Depends(engine_of)]
ANSWERS = responses(401, 403, 404, 409, 413, 422)
QUEUED = {202: {"model": EditOutcome, "description": "Live topology: a mutation was queued."}}


def _answer(result: EditResult, response: Response) -> dict[str, Any]:
    response.status_code = 202 if result.mode == "mutation" else 200
    return result.to_dict()


@router.post("/deckies", response_model=EditOutcome, responses={**QUEUED, **ANSWERS},
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": edits.payload_schema("add_decky")}}}})
def add_decky(name: str, engine: EngineDep, response: Response,
              body: Annotated[dict[str, Any], Body(description="As the add_decky payload.")]
              ) -> dict[str, Any]:
    """Add a decky on a LAN (its home), with an archetype and/or services."""
    return _answer(edits.add_decky(engine, name, body), response)


@router.delete("/deckies/{decky}", response_model=EditOutcome,
               responses={**QUEUED, **responses(401, 403, 404, 409, 422)})
def remove_decky(name: str, decky: str, engine: EngineDep, response: Response
                 ) -> dict[str, Any]:
    """Remove a decky (with its containers, once the mutation applies on a live maze)."""
    return _answer(edits.remove_decky(engine, name, decky), response)


@router.patch("/deckies/{decky}", response_model=EditOutcome, responses={**QUEUED, **ANSWERS})
def edit_decky(name: str, decky: str, body: DeckyEdit, engine: EngineDep,
               response: Response) -> dict[str, Any]:
    """Change a decky's services and/or config."""
    return _answer(edits.edit_decky(engine, name, decky, services=body.services,
                                    patch=body.patch), response)


@router.patch("/lans/{lan}", response_model=EditOutcome, responses={**QUEUED, **ANSWERS})
def edit_lan(name: str, lan: str, body: LanEdit, engine: EngineDep,
             response: Response) -> dict[str, Any]:
    """Change a LAN's meta, driver or parent."""
    return _answer(edits.edit_lan(engine, name, lan, body.patch), response)
