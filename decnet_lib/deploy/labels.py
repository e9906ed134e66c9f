"""The labels every MazeNET Docker object carries (containerlab-style: find by label)."""

from __future__ import annotations

MANAGED = "decnet.managed"
TOPOLOGY_ID = "decnet.topology.id"
TOPOLOGY_NAME = "decnet.topology.name"
LAN = "decnet.lan"
DECKY = "decnet.decky"
ROLE = "decnet.role"
SERVICE = "decnet.service"
TOPOLOGY_SERVICE = "decnet.topology.service"


def topology_filter(topology_id: str) -> dict[str, list[str]]:
    """Docker API filter selecting the objects of one topology."""
    return {"label": [f"{MANAGED}=true", f"{TOPOLOGY_ID}={topology_id}"]}

SPEC_HASH = "decnet.spec.hash"
ROLE_BASE = "base"
ROLE_SERVICE = "service"


def managed_filter() -> dict[str, list[str]]:
    """Docker API filter selecting every MazeNET object, of any topology."""
    return {"label": [f"{MANAGED}=true"]}


def is_ours(labels: dict[str, str] | None, topology_id: str) -> bool:
    """True when an object's labels say it belongs to this topology (and only then)."""
    labels = labels or {}
    return labels.get(MANAGED) == "true" and labels.get(TOPOLOGY_ID) == topology_id
