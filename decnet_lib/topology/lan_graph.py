"""The LAN graph of a maze: LANs joined by the deckies that sit on several of them.

The DMZ is depth 0; a LAN reached from it across one bridge decky is depth 1, and so on
(breadth first, so the depth is the fewest LAN hops an attacker needs).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Iterable, Sequence
from typing import TypeVar

D = TypeVar("D")


def reached_from(dmz: str, deckies: Iterable[tuple[D, Sequence[str]]]
                 ) -> dict[str, tuple[str, D] | None]:
    """Every LAN reachable from `dmz` -> (the LAN it is first reached from, the decky
    crossed), the DMZ -> None; breadth-first order. `deckies`: (decky, its LAN names)."""
    members: dict[str, list[tuple[D, Sequence[str]]]] = {}
    for decky, lans in deckies:
        for lan in lans:
            members.setdefault(lan, []).append((decky, lans))
    via: dict[str, tuple[str, D] | None] = {dmz: None}
    queue = deque([dmz])
    while queue:
        lan = queue.popleft()
        for decky, lans in members.get(lan, ()):
            for other in lans:
                if other not in via:
                    via[other] = (lan, decky)
                    queue.append(other)
    return via


def depths(via: dict[str, tuple[str, D] | None]) -> dict[str, int]:
    """LAN -> hops from the DMZ, from `reached_from`'s answer."""
    depth: dict[str, int] = {}
    for lan, step in via.items():  # breadth-first: a LAN's predecessor comes before it
        depth[lan] = 0 if step is None else depth[step[0]] + 1
    return depth


def lan_depths(dmz: str | None, deckies: Iterable[tuple[Hashable, Sequence[str]]]
               ) -> dict[str, int]:
    """LAN -> hops from the DMZ ({} without a DMZ); unreachable LANs are left out."""
    return {} if dmz is None else depths(reached_from(dmz, deckies))
