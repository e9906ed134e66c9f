"""The canonical hash: SHA-256 over an allow-list of deployment-relevant fields only.

Status, timestamps, versions, ids, archetype names and free-form `meta` never change it.
`emulation` and `domain` count only when they differ from their defaults (full, none), so
the hashes of topologies written before they existed did not change.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import orjson

LAN_FIELDS = ("name", "subnet", "gateway", "dmz", "driver", "parent")
DECKY_FIELDS = ("name", "services", "service_config", "forwards_l3", "expose", "images",
                "resources")
DECKY_OPTIONAL_FIELDS = {"emulation": "full", "domain": None}  # hashed when not the default


def canonical_view(topology: Mapping[str, Any]) -> dict[str, Any]:
    """The allow-listed, order-normalised view of a resolved topology (a dict)."""
    lans = sorted(
        ({key: lan.get(key) for key in LAN_FIELDS} for lan in topology.get("lans", [])),
        key=lambda lan: lan["name"],
    )
    deckies = []
    for decky in topology.get("deckies", []):
        view = {key: decky.get(key) for key in DECKY_FIELDS}
        view["services"] = sorted(view["services"] or [])
        view["service_config"] = view["service_config"] or {}
        view["images"] = view["images"] or {}
        if not view["resources"]:
            del view["resources"]  # no limits set: the same hash as before the field existed
        for key, default in DECKY_OPTIONAL_FIELDS.items():
            if decky.get(key, default) not in (default, None):
                view[key] = decky[key]
        # order matters: the first LAN is the home LAN
        view["lans"] = [[lan, ip] for lan, ip in (decky.get("lans") or {}).items()]
        deckies.append(view)
    deckies.sort(key=lambda decky: decky["name"])
    return {"name": topology.get("name"), "lans": lans, "deckies": deckies}


def canonical_hash(topology: Mapping[str, Any]) -> str:
    """SHA-256 hex digest of the sorted-key compact JSON of `canonical_view`."""
    payload = orjson.dumps(canonical_view(topology), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(payload).hexdigest()
