"""The agent's HTTP API: apply, teardown, report, health."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool

from agent.bodies import (
    ApplyBody,
    TeardownBody,
    apply_body,
    check_topology_id,
    checked_topology,
    teardown_body,
)
from agent.deps import get_service
from agent.openapi import APPLY_BODY, problem
from agent.service import AgentService
from decnet_lib import __version__

router = APIRouter()
BAD_BODY = {400: problem("Malformed body, bad topology id or hash mismatch")}
TOO_LARGE = {413: problem("Body larger than the agent's limit (refused while streaming)")}
NO_DOCKER = {503: problem("Docker Engine does not answer")}


@router.get("/health")
async def health() -> dict[str, Any]:
    """Liveness: never touches Docker."""
    return {"ok": True, "version": __version__}


@router.post("/topology/apply", openapi_extra={"requestBody": APPLY_BODY}, responses={
    **BAD_BODY, **TOO_LARGE, 422: problem("Invalid topology (with `issues`)"),
    502: problem("The predecessor could not be torn down"), **NO_DOCKER})
async def apply(
    body: ApplyBody = Depends(apply_body), service: AgentService = Depends(get_service)
) -> dict[str, Any]:
    """Check the hash, validate, replace a different predecessor, pin, then apply.

    200 with `status` active|degraded|failed; 400 bad body or hash mismatch; 422 invalid
    topology (with `issues`); 502 the predecessor could not be torn down; 503 no Docker.
    """
    resolved, hash_ = await run_in_threadpool(checked_topology, body)
    return await run_in_threadpool(service.apply, resolved, hash_)


@router.post("/topology/teardown", responses={**BAD_BODY, **TOO_LARGE, **NO_DOCKER})
async def teardown(
    body: TeardownBody = Depends(teardown_body), service: AgentService = Depends(get_service)
) -> dict[str, Any]:
    """Tear down (by labels) the given id, else the pinned and the last-error topologies."""
    return await run_in_threadpool(service.teardown, body.topology_id)


@router.get("/topology", responses={**BAD_BODY, **NO_DOCKER})
async def topology(
    service: AgentService = Depends(get_service),
    topology_id: str | None = Query(None, description="Report Docker objects of this id."),
    full: bool = Query(False, description="Include the resolved topologies."),
) -> dict[str, Any]:
    """Pinned id, name, hash, status, last error, and what Docker really has for it."""
    if topology_id is not None:
        check_topology_id(topology_id)
    return await run_in_threadpool(service.report, topology_id, full)
