"""`PATCH /api/v1/topologies/{name}/deckies/{decky}` and `.../lans/{lan}`: a direct edit while
the topology is pending or torn down, an `update_decky`/`update_lan` mutation while live."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
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
