"""The resolved topology as a document again (every IP pinned): export and re-validation."""

from __future__ import annotations

from typing import Any

from decnet_lib.catalog import ARCHETYPES
from decnet_lib.topology.document import DEFAULT_EMULATION
from decnet_lib.topology.resolve import is_default_image
from decnet_lib.topology.resolved import ResolvedTopology


def to_document(topology: ResolvedTopology) -> dict[str, Any]:
    """The topology as a document that `topology create` accepts (every IP pinned)."""
    lans = []
    for lan in topology.lans:
        item: dict[str, Any] = {"name": lan.name, "subnet": lan.subnet}
        if lan.dmz:
            item["dmz"] = True
        if lan.driver != "bridge":
            item["driver"] = lan.driver
            item["parent"] = lan.parent
        if lan.meta:
            item["meta"] = lan.meta
        lans.append(item)
    deckies = []
    for decky in topology.deckies:
        entry: dict[str, Any] = {"name": decky.name}
        archetype = ARCHETYPES.get(decky.archetype or "")
        if archetype and set(archetype.services) <= set(decky.services):
            entry["archetype"] = decky.archetype
        entry["services"] = list(decky.services)
        entry["lans"] = dict(decky.lans)
        entry["forwards_l3"] = decky.forwards_l3
        entry["expose"] = decky.expose
        if decky.resources:
            entry["resources"] = dict(decky.resources)
        if decky.service_config:
            entry["service_config"] = decky.service_config
        images = {
            svc: image
            for svc, image in decky.images.items()
            if not is_default_image(svc, image)
        }
        if images:
            entry["images"] = images
        if decky.emulation != DEFAULT_EMULATION:
            entry["emulation"] = decky.emulation
        if decky.domain:
            entry["domain"] = decky.domain
        if decky.meta:
            entry["meta"] = decky.meta
        deckies.append(entry)
    return {"name": topology.name, "lans": lans, "deckies": deckies}
