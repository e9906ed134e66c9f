"""The resolved topology: IPs allocated, archetypes expanded, ids attached.

This is what is stored, hashed, shown and sent to agents.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from decnet_lib.topology.document import DEFAULT_EMULATION, Emulation, LanDriver


class _Resolved(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ResolvedLan(_Resolved):
    id: str
    name: str
    subnet: str
    gateway: str
    dmz: bool = False
    driver: LanDriver = "bridge"
    parent: str | None = None
    meta: dict[str, Any] = Field(default_factory=dict)


class ResolvedDecky(_Resolved):
    id: str
    name: str
    archetype: str | None = None
    services: list[str] = Field(default_factory=list)
    lans: dict[str, str] = Field(description="LAN name to IP, home first.")
    forwards_l3: bool = False
    expose: bool | dict[str, str] = False
    resources: dict[str, Any] = Field(default_factory=dict)
    service_config: dict[str, dict[str, Any]] = Field(default_factory=dict)
    images: dict[str, str] = Field(default_factory=dict)
    emulation: Emulation = Field(default=DEFAULT_EMULATION, description="Effective emulation.")
    domain: str | None = Field(default=None, description="Persona domain, when one is set.")
    meta: dict[str, Any] = Field(default_factory=dict)

    @property
    def home(self) -> str:
        return next(iter(self.lans))

    @property
    def is_bridge(self) -> bool:
        return len(self.lans) > 1


class ResolvedTopology(_Resolved):
    id: str
    name: str
    status: str = "pending"
    hash: str = ""
    lans: list[ResolvedLan] = Field(default_factory=list)
    deckies: list[ResolvedDecky] = Field(default_factory=list)

    def lan(self, name: str) -> ResolvedLan | None:
        return next((lan for lan in self.lans if lan.name == name), None)

    def decky(self, name: str) -> ResolvedDecky | None:
        return next((d for d in self.deckies if d.name == name), None)
