"""What a service container is told by the deployer: service, ports, config and persona."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from decnet_emu.persona import Persona


@dataclass(frozen=True, slots=True)
class Listen:
    """One port the service listens on."""

    port: int
    proto: str = "tcp"


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything an emulator process needs, read once at start."""

    service: str
    ports: tuple[Listen, ...]
    config: dict[str, Any] = field(default_factory=dict)
    persona: Persona = field(default_factory=Persona)
    max_connections: int = 256
    conn_timeout: float = 300.0
    host: str = "::"


def parse_ports(text: str) -> tuple[Listen, ...]:
    """`"22/tcp 53/udp 80"` -> Listen items (tcp when the protocol is left out)."""
    items = []
    for word in text.split():
        number, _, proto = word.partition("/")
        items.append(Listen(int(number), (proto or "tcp").lower()))
    return tuple(items)


def _value(raw: str) -> Any:
    """DECNET_CFG_* values: true/false, JSON lists and objects, numbers stay text."""
    if raw in ("true", "false"):
        return raw == "true"
    if raw[:1] in ("[", "{"):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def service_config(env: Mapping[str, str]) -> dict[str, Any]:
    """The service's configuration keys (lower-case) from DECNET_CFG_<KEY> variables."""
    prefix = "DECNET_CFG_"
    return {key[len(prefix):].lower(): _value(value)
            for key, value in env.items() if key.startswith(prefix)}


def from_environment(env: Mapping[str, str] | None = None) -> EmulatorConfig:
    """Read the container's environment (os.environ by default)."""
    env = os.environ if env is None else env
    service = env.get("DECNET_SERVICE", "")
    config = service_config(env)
    persona = Persona.from_environment(env).overridden(service, config)
    return EmulatorConfig(
        service=service,
        ports=parse_ports(env.get("DECNET_PORTS", "")),
        config=config,
        persona=persona,
        max_connections=int(env.get("DECNET_MAX_CHILDREN", "256") or 256),
        conn_timeout=float(env.get("DECNET_CONN_TIMEOUT", "300") or 300),
        host=env.get("DECNET_LISTEN", "::"),
    )
