"""Footholds for generated mazes: a walkable path from the DMZ to the deepest LAN.

Each bridge decky on the path gets an ssh service whose `accept` holds one weak login,
derived from the generator's seed and the decky's name (the same seed, the same
credentials), so an attacker who guesses it gets a shell that sees the next LAN.
"""

from __future__ import annotations

import hashlib
from typing import Any

from decnet_lib.topology.lan_graph import depths, reached_from

USERS = ("admin", "backup", "deploy", "oracle", "support", "ubuntu", "jenkins", "git",
         "postgres", "operator", "test", "devops")
PASSWORDS = ("123456", "password", "admin", "welcome", "changeme", "letmein", "qwerty",
             "P@ssw0rd", "Summer2024", "root", "toor", "secret")


def credential(seed: int, decky: str) -> dict[str, str]:
    """The login planted on one decky: deterministic from the seed and its name."""
    digest = hashlib.sha256(f"decnet-foothold:{seed}:{decky}".encode()).digest()
    user = USERS[digest[0] % len(USERS)]
    password = PASSWORDS[digest[1] % len(PASSWORDS)]
    if digest[2] % 2:
        password += str(digest[3] % 100)
    return {"user": user, "password": password}


def path_to_deepest(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The bridge deckies crossed on a shortest path from the DMZ to the deepest LAN
    (the first one in document order among the deepest)."""
    dmz = next(lan["name"] for lan in doc["lans"] if lan.get("dmz"))
    via = reached_from(dmz, ((decky, decky["lans"]) for decky in doc["deckies"]))
    depth = depths(via)
    order = list(via)
    deepest = max(order, key=lambda lan: depth[lan])  # max keeps the first of the deepest
    path: list[dict[str, Any]] = []
    while (step := via[deepest]) is not None:
        deepest, decky = step
        path.append(decky)
    return path[::-1]


def plant_footholds(doc: dict[str, Any], seed: int) -> list[str]:
    """Give each bridge decky on the path an ssh login; returns their names in path order."""
    planted = []
    for decky in path_to_deepest(doc):
        if "ssh" not in decky["services"]:
            decky["services"].append("ssh")
        config = decky.setdefault("service_config", {}).setdefault("ssh", {})
        config["accept"] = [credential(seed, decky["name"])]
        planted.append(decky["name"])
    return planted
