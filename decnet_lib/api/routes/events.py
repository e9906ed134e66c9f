"""`GET /api/v1/events`: the attacker events the master has ingested, oldest first."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import Engine

from decnet_lib.api.errors import responses
from decnet_lib.api.models import AttackEventView
from decnet_lib.api.reads import short_read
from decnet_lib.api.security import current_caller
from decnet_lib.api.state import engine_of
from decnet_lib.master.attack_events import list_events_in

router = APIRouter(tags=["events"], dependencies=[Depends(current_caller)])
SINCE = Query(description="10m, 2h, 3d or an ISO 8601 time.")


@router.get("/events", response_model=list[AttackEventView], responses=responses(401, 422))
async def events(engine: Annotated[Engine, Depends(engine_of)],
           topology: Annotated[str | None, Query(description="Topology name.")] = None,
           attacker: Annotated[str | None, Query(description="Source address.")] = None,
           since: Annotated[str | None, SINCE] = None,
           after_id: Annotated[int, Query(ge=0, le=2**63 - 1,
                                          description="Only events after this id.")] = 0,
           limit: Annotated[int | None, Query(ge=1, le=10_000)] = 1000,
           ) -> list[dict[str, Any]]:
    """Stored events with the filters (`after_id` pages forward)."""
    return await short_read(engine, partial(
        list_events_in, engine, topology=topology, attacker=attacker, since=since,
        after_id=after_id, limit=limit))
