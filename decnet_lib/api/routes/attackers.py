"""`GET /api/v1/attackers`: one record per source address (DESIGN.md "Attacker events")."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from decnet_lib.api.errors import responses
from decnet_lib.api.models import Attacker
from decnet_lib.api.security import current_caller
from decnet_lib.api.state import settings_of
from decnet_lib.master.attackers import list_attackers
from decnet_lib.settings_model import Settings

router = APIRouter(tags=["attackers"], dependencies=[Depends(current_caller)])


@router.get("/attackers", response_model=list[Attacker], responses=responses(401, 422))
def attackers(settings: Annotated[Settings, Depends(settings_of)],
              topology: Annotated[str | None, Query(description="Topology name.")] = None,
              attacker: Annotated[str | None, Query(description="Source address.")] = None,
              since: Annotated[str | None, Query(description="10m, 2h, 3d or ISO 8601.")
                               ] = None,
              ) -> list[dict[str, Any]]:
    """Who attacked: where they went, what they tried, how deep they got."""
    return list_attackers(settings, topology=topology, attacker=attacker, since=since)
