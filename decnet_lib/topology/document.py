"""Typed models of the topology document (the user's YAML/JSON input)."""

from __future__ import annotations

from ipaddress import ip_address
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

LanDriver = Literal["bridge", "macvlan", "ipvlan"]
Emulation = Literal["light", "full"]
DEFAULT_EMULATION: Emulation = "full"
DOMAIN_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
EMULATION_HELP = (
    "light: the busybox first-exchange emulators (tiny); full: the Python protocol "
    "emulators and OpenSSH (real clients get through authentication)."
)


class _DocModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class LanDoc(_DocModel):
    """A LAN: one Docker network with an explicit subnet."""

    name: str = Field(description="LAN name, unique in the topology.")
    subnet: str = Field(description="IPv4 subnet in CIDR form, /29 or larger.")
    dmz: bool = Field(default=False, description="Exactly one LAN of a topology is the DMZ.")
    driver: LanDriver = Field(default="bridge", description="Docker network driver.")
    parent: str | None = Field(
        default=None, description="Host interface for the macvlan/ipvlan drivers."
    )
    meta: dict[str, Any] = Field(
        default_factory=dict, description="Free-form notes (not deployed, not hashed)."
    )


class ResourcesDoc(_DocModel):
    """Limits of each of a decky's service containers (defaults: 128m, 128 pids, 0.5 CPU)."""

    memory: str | None = Field(default=None, pattern=r"^[1-9][0-9]{0,5}[kmg]$",
                               description="e.g. 256m")
    pids: int | None = Field(default=None, ge=16, le=4096)
    cpus: float | None = Field(default=None, gt=0, le=16)


class ExposeDoc(_DocModel):
    """Publish the decky's service ports on one host address (not loopback)."""

    address: str = Field(default="0.0.0.0", description="Host address to bind.")

    @field_validator("address")
    @classmethod
    def _a_public_address(cls, value: str) -> str:
        try:
            address = ip_address(value)
        except ValueError:
            raise ValueError(f"{value[:64]!r} is not an IP address") from None
        if address.is_loopback:
            raise ValueError("publishing on loopback is refused: the deckies would answer "
                             "the host's own local services' clients")
        return value


class DeckyDoc(_DocModel):
    """A decoy host: a base container and one container per service."""

    name: str
    archetype: str | None = Field(default=None, description="Adds the archetype's services.")
    services: list[str] = Field(default_factory=list)
    lans: dict[str, str | None] = Field(
        default_factory=dict,
        description="LAN name to IPv4 address (null = allocate). The first LAN is home.",
    )
    forwards_l3: bool = Field(default=False, description="Routes between its LANs.")
    expose: bool | ExposeDoc = Field(
        default=False, description="Publish service ports on the agent host (DMZ-homed only); "
        "true binds 0.0.0.0, {address: A} binds A."
    )
    resources: ResourcesDoc | None = Field(default=None, description="Container limits.")
    service_config: dict[str, dict[str, Any]] = Field(default_factory=dict)
    images: dict[str, str] = Field(
        default_factory=dict, description="Service name to a replacement image."
    )
    emulation: Emulation | None = Field(
        default=None, description=f"{EMULATION_HELP} Default: the topology's."
    )
    domain: str | None = Field(
        default=None, pattern=DOMAIN_PATTERN, max_length=200,
        description="DNS domain of the decky's persona. Default: the topology's.",
    )
    meta: dict[str, Any] = Field(
        default_factory=dict, description="Free-form notes (not deployed, not hashed)."
    )


class TopologyDoc(_DocModel):
    """A maze: a named set of LANs and deckies."""

    name: str
    emulation: Emulation = Field(
        default=DEFAULT_EMULATION, description=f"Default of every decky. {EMULATION_HELP}"
    )
    domain: str | None = Field(
        default=None, pattern=DOMAIN_PATTERN, max_length=200,
        description="DNS domain of the deckies' personas (default: <name>.internal).",
    )
    lans: list[LanDoc] = Field(default_factory=list)
    deckies: list[DeckyDoc] = Field(default_factory=list)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the topology document."""
    schema = TopologyDoc.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "MazeNET topology"
    return schema
