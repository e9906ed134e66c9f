"""`GET /api/v1/catalog/services|archetypes`: what a decky can run."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from decnet_lib.api.errors import responses
from decnet_lib.api.models import ArchetypeRow, ServiceRow
from decnet_lib.api.security import current_caller
from decnet_lib.master.catalog import archetype_rows, service_rows

router = APIRouter(prefix="/catalog", tags=["catalog"], dependencies=[Depends(current_caller)])


@router.get("/services", response_model=list[ServiceRow], responses=responses(401))
def services() -> list[dict[str, Any]]:
    """Emulated services: ports, image, config keys."""
    return service_rows()


@router.get("/archetypes", response_model=list[ArchetypeRow], responses=responses(401))
def archetypes() -> list[dict[str, Any]]:
    """Archetypes and the services they add."""
    return archetype_rows()
