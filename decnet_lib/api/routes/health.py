"""`GET /api/v1/health`: open (no token)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from fastapi import APIRouter

from decnet_lib.api.models import Health

router = APIRouter(tags=["health"])


def _version() -> str:
    try:
        return version("mazenet")
    except PackageNotFoundError:
        return "unknown"


@router.get("/health", response_model=Health)
def health() -> Health:
    """The API answers (no token needed)."""
    return Health(status="ok", version=_version())
