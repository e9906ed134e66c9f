"""What the catalog offers, as rows the front ends print or return: services, archetypes."""

from __future__ import annotations

from typing import Any


def service_rows() -> list[dict[str, Any]]:
    """Each emulated service: name, ports, image, config keys, description."""
    from decnet_lib.catalog import SERVICES

    return [
        {
            "name": svc.name,
            "ports": [str(port) for port in svc.ports],
            "image": svc.image,
            "config": sorted(svc.config.model_fields),
            "description": svc.description,
        }
        for svc in SERVICES.values()
    ]


def archetype_rows() -> list[dict[str, Any]]:
    """Each archetype: name, the services it adds, description."""
    from decnet_lib.catalog import ARCHETYPES

    return [{"name": a.name, "services": list(a.services), "description": a.description}
            for a in ARCHETYPES.values()]
