"""The attackers use case: who is in the maze, how deep they got, what they tried.

Reads the stored events of the chosen topology (and time window) in bounded pages, oldest
first, and folds them into attacker records (`attacker_records`), following pivots through
footholds with each topology's stored decky addresses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from decnet_lib.db import get_topology
from decnet_lib.db.attack_events import decky_addresses, event_topologies, iter_events
from decnet_lib.master.attack_events import (
    event_object,
    events_engine,
    list_events,
    parse_since,
)
from decnet_lib.master.attacker_records import attackers_of, maze_maps
from decnet_lib.master.database import read_session

if TYPE_CHECKING:
    from decnet_lib.settings import Settings


def list_attackers(settings: Settings, *, topology: str | None = None,
                   attacker: str | None = None, since: str | None = None
                   ) -> list[dict[str, Any]]:
    """Attacker records (DESIGN.md "Attacker events on the master"), by first seen.

    `topology` (a name) and `since` (10m, 2h, 3d or ISO 8601) narrow the events read;
    `attacker` picks one record after attribution, so a pivot from a foothold's address
    still counts for the attacker who held it. No database yet: no attackers.
    """
    moment = parse_since(since)
    with events_engine(settings) as engine, read_session(engine) as session:
        if session is None:
            return []
        stored = get_topology(session, topology) if topology else None
        scope: dict[str, Any] = {
            "topology_id": stored.id if stored else None,
            "topology": topology if topology and stored is None else None,
            "since": moment,
        }
        mazes = maze_maps(decky_addresses(session, event_topologies(session, **scope)))
        records = attackers_of((event_object(row) for row in iter_events(session, **scope)),
                               mazes)
    if attacker is not None:
        records = [record for record in records if record["src_ip"] == attacker]
    return records


def events_report(settings: Settings, *, topology: str | None = None,
                  attacker: str | None = None, since: str | None = None,
                  limit: int = 1000) -> dict[str, Any]:
    """The events (oldest first, at most `limit`) and the attacker records under the same
    filters, for playbooks: `{"events", "events_truncated", "attackers"}`."""
    found = list_events(settings, topology=topology, attacker=attacker, since=since,
                        limit=limit + 1)
    return {"events": found[:limit], "events_truncated": len(found) > limit,
            "attackers": list_attackers(settings, topology=topology, attacker=attacker,
                                        since=since)}
