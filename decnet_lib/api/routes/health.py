"""`GET /api/v1/health`: open (no token)."""

from __future__ import annotations

from functools import cache
from importlib.metadata import PackageNotFoundError, version

from fastapi import APIRouter

from decnet_lib.api.models import Health

router = APIRouter(tags=["health"])


@cache
def _version() -> str:
    try:
        return version("mazenet")
    except PackageNotFoundError:
        return "unknown"


@router.get("/health", response_model=Health)
async def health() -> Health:
    """The API answers (no token needed; async: no worker thread, no I/O)."""
    return Health(status="ok", version=_version())
