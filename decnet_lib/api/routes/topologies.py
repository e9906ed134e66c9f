"""`/api/v1/topologies`: list, create, show, delete, deploy, teardown."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query
from fastapi.responses import Response
from sqlalchemy import Engine

from decnet_lib.api.encoded import ENCODED, with_fields
from decnet_lib.api.errors import responses
from decnet_lib.api.models import (
    Created,
    DeployRequest,
    LifecycleOutcome,
    TopologyDetail,
    TopologySummary,
)
from decnet_lib.api.reads import short_read
from decnet_lib.api.security import current_caller
from decnet_lib.api.state import engine_of, settings_of
from decnet_lib.errors import NotFound
from decnet_lib.master import info, lifecycle, topologies
from decnet_lib.master.targets import targets_for
from decnet_lib.settings_model import Settings

router = APIRouter(prefix="/topologies", tags=["topologies"],
                   dependencies=[Depends(current_caller)])
EngineDep = Annotated[Engine, Depends(engine_of)]
SettingsDep = Annotated[Settings, Depends(settings_of)]
DOCUMENT = Body(description="A topology document (`decnet topology schema` prints its "
                "JSON Schema); checked like `decnet topology create`.")


@router.get("", response_model=list[TopologySummary], responses=responses(401))
async def list_topologies(engine: EngineDep) -> list[dict[str, Any]]:
    """Every stored topology: summary, target, last update."""
    return await short_read(engine, partial(info.list_with_targets, engine))


@router.post("", status_code=201, response_model=Created,
             responses=responses(401, 403, 409, 413, 422))
def create_topology(engine: EngineDep,
                    document: Annotated[dict[str, Any], DOCUMENT]) -> dict[str, Any]:
    """Validate, resolve and store a topology (all or nothing)."""
    resolved, warnings = topologies.create_in(engine, document)
    return {"topology": resolved.model_dump(),
            "warnings": [issue.to_dict() for issue in warnings]}


@router.get("/{name}", response_model=TopologyDetail, responses=responses(401, 404))
async def show_topology(name: str, engine: EngineDep) -> Response:
    """The resolved topology, its target and its last status changes."""
    found = await short_read(engine, partial(info.stored_topology, engine, name))
    if found is None:
        raise NotFound(f"no topology named {name!r}")
    # the resolved part is encoded once per stored state (encoded.py): no per-request
    # dump, response-model validation and encoding of the whole topology
    body = with_fields(ENCODED.of(found.resolved),
                       {"target": found.target, "events": found.events})
    return Response(body, media_type="application/json")


@router.delete("/{name}", status_code=204, responses=responses(401, 403, 404, 409, 422))
def delete_topology(name: str, engine: EngineDep, settings: SettingsDep,
                    force: Annotated[bool, Query(description="In any status (never while "
                                                 "containers run).")] = False) -> None:
    """Delete a topology and all it owns; refused while any of its containers runs."""
    topologies.delete_in(engine, name, force=force, targets=targets_for(settings))


@router.post("/{name}/deploy", response_model=LifecycleOutcome,
             responses=responses(401, 403, 404, 409, 413, 422, 503))
def deploy_topology(name: str, engine: EngineDep, settings: SettingsDep,
                    request: Annotated[DeployRequest | None, Body()] = None
                    ) -> dict[str, Any]:
    """Deploy (or re-apply) a topology; `status` says how it ended."""
    agent = request.agent if request is not None else None
    return lifecycle.deploy(engine, name, agent, targets=targets_for(settings)).to_dict()


@router.post("/{name}/teardown", response_model=LifecycleOutcome,
             responses=responses(401, 403, 404, 409, 422, 503))
def teardown_topology(name: str, engine: EngineDep, settings: SettingsDep) -> dict[str, Any]:
    """Remove every container and network of a topology (found by label)."""
    return lifecycle.teardown(engine, name, targets_for(settings)).to_dict()
