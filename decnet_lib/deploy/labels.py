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
