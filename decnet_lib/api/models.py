"""Request bodies and answers of the API, as they appear in its OpenAPI document.

The topology document and mutation payloads are checked by the same code as the CLI (so the
same codes come back); the models here give them their documented shape.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from decnet_lib.master.vocabulary import MUTATION_STATES, OPS
from decnet_lib.topology.resolved import ResolvedTopology

MutationState = Literal[MUTATION_STATES]  # type: ignore[valid-type]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Health(BaseModel):
    status: Literal["ok"]
    version: str


class TopologySummary(_Open):
    id: str
    name: str
    status: str
    hash: str
    lans: int
    deckies: int
    target: str
    updated_at: str | None


class StatusChange(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: str | None = Field(alias="from")
    to: str
    reason: str
    at: str | None


class TopologyDetail(ResolvedTopology):
    """The resolved topology, its target and its last status changes (oldest first)."""

    target: str
    events: list[StatusChange]


class Created(_Open):
    """The stored topology and the warnings of its document."""

    topology: ResolvedTopology
    warnings: list[dict[str, Any]]


class DeployRequest(_Body):
    agent: str | None = Field(default=None, description="Agent URL; default: the stored "
                              "target, else this machine's Docker.")


class LifecycleOutcome(_Open):
    name: str
    id: str
    status: str
    changed: bool
    message: str
    details: dict[str, Any]


class MutationRequest(_Body):
    op: str = Field(json_schema_extra={"enum": list(OPS)})
    payload: dict[str, Any] = Field(default_factory=dict,
                                    description="The op's payload (docs: DESIGN.md Mutations).")


class MutationView(_Open):
    id: int
    op: str
    payload: dict[str, Any]
    state: MutationState
    attempts: int
    claimed_by: str | None
    created_at: str | None
    finished_at: str | None
    error: dict[str, Any] | None


class DeckyEdit(_Body):
    services: list[str] | None = Field(default=None, description="Replaces the service list.")
    patch: dict[str, Any] | None = Field(
        default=None, description="JSON merge patch over forwards_l3, expose, service_config, "
        "images, emulation, domain, meta, resources.")


class LanEdit(_Body):
    patch: dict[str, Any] = Field(description="JSON merge patch over meta, driver, parent.")


class EditOutcome(BaseModel):
    """`direct`: the stored topology now; `mutation`: the queued mutation; `unchanged`."""

    mode: Literal["direct", "mutation", "unchanged"]
    topology: dict[str, Any] | None
    mutation: MutationView | None


class AttackEventView(_Open):
    id: int
    ts: str
    topology: str | None
    topology_id: str | None
    decky: str | None
    lan: str | None
    service: str | None
    event: str
    src_ip: str | None
    src_port: int | None
    dst_ip: str | None
    dst_port: int | None
    proto: str | None
    session: str | None
    fields: dict[str, Any]


class Credential(_Open):
    service: str | None
    username: str | None
    password: str | None = None
    hash: str | None = None
    success: bool
    attempts: int


class PathStep(_Open):
    topology: str | None
    decky: str
    lan: str | None
    ts: str
    via: str | None = Field(description="The foothold decky this step was made from.")


class Attacker(_Open):
    """One source address: where it went, what it tried, how deep it got."""

    src_ip: str
    first_seen: str
    last_seen: str
    events: int
    topologies: list[str]
    deckies: list[str]
    lans: list[str]
    depth: int
    path: list[PathStep]
    pivots: int
    credentials: list[Credential]
    commands: list[str]


class ServiceRow(BaseModel):
    name: str
    ports: list[str]
    image: str | None
    config: list[str]
    description: str


class ArchetypeRow(BaseModel):
    name: str
    services: list[str]
    description: str
