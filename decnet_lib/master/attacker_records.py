"""Attackers out of events: who did what where, with pivots through footholds followed.

Pure functions over event objects (`attack_events.event_object`'s form) and the maze's
addresses; no database. An attacker is a source address. An event whose source address is
a decky's own address (any of its LANs) is a pivot: it is attributed to the attacker who
holds, or most recently held before it, a session on that foothold decky (a successful
login there, or a command typed there). Attribution is followed through chains: an
attacker on A who logs in to B from A makes B theirs too, and so on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from decnet_lib.topology.lan_graph import lan_depths

TRUE_WORDS = frozenset({"true", "1", "yes", "ok", "success"})


@dataclass(frozen=True)
class MazeMap:
    """One topology as attribution needs it: decky addresses and LAN depths."""

    addresses: Mapping[str, tuple[str, str]]
    """Address -> (decky, LAN) for every LAN of every decky."""
    depths: Mapping[str, int]
    """LAN -> hops from the DMZ."""


def maze_maps(rows: Iterable[tuple[str, str, str, str, bool]]) -> dict[str, MazeMap]:
    """Topology id -> MazeMap, from (topology_id, decky, LAN, address, LAN is the DMZ)
    rows (each decky's LANs in its order)."""
    addresses: dict[str, dict[str, tuple[str, str]]] = {}
    lans: dict[str, dict[str, list[str]]] = {}
    dmz: dict[str, str] = {}
    for tid, decky, lan, ip, is_dmz in rows:
        addresses.setdefault(tid, {})[ip] = (decky, lan)
        lans.setdefault(tid, {}).setdefault(decky, []).append(lan)
        if is_dmz:
            dmz[tid] = lan
    return {tid: MazeMap(addresses[tid], lan_depths(dmz.get(tid), lans[tid].items()))
            for tid in addresses}


def truthy(value: Any) -> bool:
    """An emulator's success flag (a bool, or its text after RFC 5424)."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in TRUE_WORDS


def credential(event: Mapping[str, Any]) -> dict[str, Any]:
    """What a login event tried: the newer emulators say `username`, ssh and the light
    emulators `user`; `hash` stands where the protocol carries no password."""
    fields = event.get("fields") or {}
    username = fields.get("username", fields.get("user"))
    return {"service": event.get("service"), "username": username,
            "password": fields.get("password"), "hash": fields.get("hash"),
            "success": truthy(fields.get("success", False))}


def command_text(event: Mapping[str, Any]) -> str | None:
    """The command line of a command event (`command`, or ssh's `cmd`)."""
    fields = event.get("fields") or {}
    value = fields.get("command", fields.get("cmd"))
    return None if value is None else str(value)


@dataclass
class _Record:
    src_ip: str
    first_seen: str
    last_seen: str = ""
    events: int = 0
    depth: int = 0
    topologies: list[str] = field(default_factory=list)
    deckies: list[str] = field(default_factory=list)
    lans: list[str] = field(default_factory=list)
    path: list[dict[str, Any]] = field(default_factory=list)
    touched: set[tuple[str, str]] = field(default_factory=set)
    credentials: dict[tuple[Any, ...], dict[str, Any]] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)
    pivots: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "src_ip": self.src_ip, "first_seen": self.first_seen, "last_seen": self.last_seen,
            "events": self.events, "topologies": self.topologies, "deckies": self.deckies,
            "lans": self.lans, "depth": self.depth, "path": self.path,
            "pivots": self.pivots, "credentials": list(self.credentials.values()),
            "commands": self.commands,
        }


def _append_new(items: list[str], value: str | None) -> None:
    if value is not None and value not in items:
        items.append(value)


class Attribution:
    """Folds events, in time order, into attacker records."""

    def __init__(self, mazes: Mapping[str, MazeMap]) -> None:
        self.mazes = mazes
        self.holders: dict[tuple[str, str], str] = {}
        self.records: dict[str, _Record] = {}

    def attacker_of(self, event: Mapping[str, Any]) -> tuple[str | None, str | None]:
        """(the attacker, the foothold decky it came through or None)."""
        src = event.get("src_ip")
        maze = self.mazes.get(event.get("topology_id") or "")
        foothold = maze.addresses.get(src) if maze is not None and src else None
        if foothold is None:
            return src, None
        holder = self.holders.get((event.get("topology_id") or "", foothold[0]))
        return (holder, foothold[0]) if holder is not None else (src, None)

    def add(self, event: Mapping[str, Any]) -> None:
        """Count one event (events must come oldest first)."""
        attacker, via = self.attacker_of(event)
        if not attacker:
            return
        record = self.records.get(attacker)
        if record is None:
            record = self.records[attacker] = _Record(attacker, event["ts"])
        record.events += 1
        record.last_seen = event["ts"]
        record.pivots += via is not None
        self._touch(record, event, via)
        kind, decky = event.get("event"), event.get("decky")
        if kind == "login":
            tried = credential(event)
            key = tuple(tried.values())
            entry = record.credentials.setdefault(key, {**tried, "attempts": 0})
            entry["attempts"] += 1
        elif kind == "command":
            text = command_text(event)
            if text is not None:
                record.commands.append(text)
        holds = kind == "command" or (kind == "login" and credential(event)["success"])
        if holds and decky:
            self.holders[(event.get("topology_id") or "", decky)] = attacker

    def _touch(self, record: _Record, event: Mapping[str, Any], via: str | None) -> None:
        tid, decky = event.get("topology_id") or "", event.get("decky")
        maze = self.mazes.get(tid)
        lan = event.get("lan")
        hit = maze.addresses.get(event.get("dst_ip") or "") if maze is not None else None
        if hit is not None and hit[0] == decky:
            lan = hit[1]  # the address that was hit says which of its LANs
        _append_new(record.topologies, event.get("topology"))
        _append_new(record.lans, lan)
        if maze is not None and lan in maze.depths:
            record.depth = max(record.depth, maze.depths[lan])
        if decky is None or (tid, decky) in record.touched:
            return
        record.touched.add((tid, decky))
        _append_new(record.deckies, decky)
        record.path.append({"topology": event.get("topology"), "decky": decky, "lan": lan,
                            "ts": event["ts"], "via": via})


def attackers_of(events: Iterable[Mapping[str, Any]], mazes: Mapping[str, MazeMap]
                 ) -> list[dict[str, Any]]:
    """Attacker records of events given oldest first, by first seen."""
    attribution = Attribution(mazes)
    for event in events:
        attribution.add(event)
    records = sorted(attribution.records.values(), key=lambda r: (r.first_seen, r.src_ip))
    return [record.as_dict() for record in records]
