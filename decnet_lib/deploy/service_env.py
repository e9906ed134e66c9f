"""The environment a service container receives: how service config reaches the emulator.

Contract with the images in `images/`: DECNET_SERVICE, DECNET_DECKY, DECNET_TOPOLOGY,
DECNET_PORTS ("22/tcp 53/udp"), one DECNET_CFG_<KEY> per config key (upper-cased;
booleans as true/false, other scalars as text, lists/dicts as compact JSON) and, when a
persona is given, DECNET_PERSONA (compact JSON, sorted keys; see `decnet_lib.personas`).
The catalog's config defaults (an Apache header, a Samba server string, ...) are filled in
for the light emulators only: a full emulator derives them from its persona, so that a
Windows decky's services do not announce Debian software nobody configured.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from decnet_lib.catalog import SERVICES


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return orjson.dumps(value).decode()


def service_environment(
    topology_name: str,
    decky: str,
    service: str,
    config: Mapping[str, Any],
    persona: Mapping[str, Any] | None = None,
    catalog_defaults: bool = True,
) -> dict[str, str]:
    """Environment variables for one service container (DECNET_PERSONA when `persona`;
    the catalog's config defaults under the given config when `catalog_defaults`)."""
    catalog = SERVICES.get(service)
    defaults = catalog.config().model_dump(exclude_none=True) \
        if catalog and catalog_defaults else {}
    env = {
        "DECNET_SERVICE": service,
        "DECNET_DECKY": decky,
        "DECNET_TOPOLOGY": topology_name,
        "DECNET_PORTS": " ".join(str(port) for port in catalog.ports) if catalog else "",
    }
    if persona is not None:
        env["DECNET_PERSONA"] = orjson.dumps(persona, option=orjson.OPT_SORT_KEYS).decode()
    for key, value in {**defaults, **config}.items():
        if value is not None:
            env[f"DECNET_CFG_{key.upper()}"] = _text(value)
    return env
