"""Human views of a resolved topology: the per-LAN text tree, summaries, the export."""

from __future__ import annotations

from typing import Any

from decnet_lib.topology.resolved import ResolvedDecky, ResolvedTopology


def _decky_marks(decky: ResolvedDecky, lan: str) -> str:
    marks = []
    if decky.is_bridge:
        others = ",".join(name for name in decky.lans if name != lan)
        marks.append(f"bridge(also {others})" if decky.home == lan
                     else f"bridge(home={decky.home})")
    if decky.forwards_l3:
        marks.append("forwards_l3")
    if decky.expose:
        marks.append("exposed")
    return "  ".join(marks)


def render_tree(topology: ResolvedTopology) -> list[str]:
    """One line per LAN (name, subnet, DMZ mark) then one per member decky."""
    lines = [
        f"topology {topology.name}  status={topology.status}  id={topology.id}  "
        f"hash={topology.hash[:16]}  lans={len(topology.lans)}  deckies={len(topology.deckies)}"
    ]
    members: dict[str, list[ResolvedDecky]] = {lan.name: [] for lan in topology.lans}
    for decky in topology.deckies:
        for lan in decky.lans:
            members.setdefault(lan, []).append(decky)
    for lan in topology.lans:
        mark = "  DMZ" if lan.dmz else ""
        driver = f"  driver={lan.driver}" if lan.driver != "bridge" else ""
        lines.append(f"lan {lan.name}  {lan.subnet}{mark}{driver}")
        for decky in members[lan.name]:
            services = ",".join(decky.services) or "-"
            marks = _decky_marks(decky, lan.name)
            lines.append(f"  {decky.name:<20} {decky.lans[lan.name]:<15} {services}"
                         + (f"  {marks}" if marks else ""))
        if not members[lan.name]:
            lines.append("  (no decky)")
    return lines


def summary(topology: ResolvedTopology) -> dict[str, Any]:
    """A short summary: id, name, status, hash and counts."""
    return counted_summary(topology.id, topology.name, topology.status, topology.hash,
                           lans=len(topology.lans), deckies=len(topology.deckies))


def counted_summary(topology_id: str, name: str, status: str, content_hash: str, *,
                    lans: int, deckies: int) -> dict[str, Any]:
    """`summary` from a topology's identity and its counts (no resolved form needed)."""
    return {"id": topology_id, "name": name, "status": status, "hash": content_hash,
            "lans": lans, "deckies": deckies}
