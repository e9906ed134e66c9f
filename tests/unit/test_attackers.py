"""Attacker records: grouping, credentials, commands, depth and pivots through footholds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from helpers import sample_resolved, store_live
from sqlalchemy import Engine

from decnet_lib.db import AttackEvent, session_scope
from decnet_lib.db.attack_events import decky_addresses, iter_events
from decnet_lib.master.attacker_records import MazeMap, attackers_of, maze_maps
from decnet_lib.master.attackers import list_attackers
from decnet_lib.settings import Settings

X, Y = "203.0.113.7", "198.51.100.9"
T = "t" * 32
MAZE = {T: MazeMap(
    addresses={"10.0.0.10": ("gw", "dmz"), "10.0.1.10": ("gw", "office"),
               "10.0.1.20": ("ws", "office"), "10.0.2.20": ("ws", "vault"),
               "10.0.2.30": ("db", "vault"), "10.0.0.40": ("web", "dmz")},
    depths={"dmz": 0, "office": 1, "vault": 2})}
HOME = {"gw": ("dmz", "10.0.0.10"), "ws": ("office", "10.0.1.20"),
        "db": ("vault", "10.0.2.30"), "web": ("dmz", "10.0.0.40")}


class Clock:
    def __init__(self) -> None:
        self.second = 0

    def event(self, decky: str, service: str, kind: str, src: str | None,
              **fields: Any) -> dict[str, Any]:
        self.second += 1
        lan, ip = HOME[decky]
        return {"id": self.second, "ts": f"2026-01-01T00:00:{self.second:02d}.000000Z",
                "topology": "acme", "topology_id": T, "decky": decky, "lan": lan,
                "service": service, "event": kind, "src_ip": src, "src_port": 40000,
                "dst_ip": ip, "dst_port": 22, "proto": "tcp", "session": fields.get("session"),
                "fields": fields}


def one(records: list[dict[str, Any]], src_ip: str) -> dict[str, Any]:
    (record,) = [r for r in records if r["src_ip"] == src_ip]
    return record


def test_a_walk_through_two_footholds_is_one_attacker() -> None:
    c = Clock()
    events = [
        c.event("gw", "ssh", "connect", X),
        c.event("gw", "ssh", "login", X, user="svc", password="wrong", success="false"),
        c.event("gw", "ssh", "login", X, user="svc", password="Winter", success="true"),
        c.event("gw", "ssh", "command", X, cmd="ip addr", session="s1"),
        c.event("ws", "ssh", "connect", "10.0.1.10"),  # from gw's office address
        c.event("ws", "ssh", "login", "10.0.1.10", username="root", password="toor",
                success=True),
        c.event("ws", "ssh", "command", "10.0.1.10", command="cat /etc/shadow"),
        c.event("db", "mysql", "login", "10.0.2.20", username="sa", hash="*AB12",
                success="false"),  # from ws's vault address
    ]
    (record,) = attackers_of(events, MAZE)
    assert record["src_ip"] == X and record["events"] == 8 and record["pivots"] == 4
    assert record["first_seen"] == events[0]["ts"] and record["last_seen"] == events[-1]["ts"]
    assert record["deckies"] == ["gw", "ws", "db"]
    assert record["lans"] == ["dmz", "office", "vault"] and record["depth"] == 2
    assert [(h["decky"], h["lan"], h["via"]) for h in record["path"]] == [
        ("gw", "dmz", None), ("ws", "office", "gw"), ("db", "vault", "ws")]
    assert record["credentials"] == [
        {"service": "ssh", "username": "svc", "password": "wrong", "hash": None,
         "success": False, "attempts": 1},
        {"service": "ssh", "username": "svc", "password": "Winter", "hash": None,
         "success": True, "attempts": 1},
        {"service": "ssh", "username": "root", "password": "toor", "hash": None,
         "success": True, "attempts": 1},
        {"service": "mysql", "username": "sa", "password": None, "hash": "*AB12",
         "success": False, "attempts": 1},
    ]
    assert record["commands"] == ["ip addr", "cat /etc/shadow"]


def test_a_pivot_goes_to_whoever_held_the_foothold_last_before_it() -> None:
    c = Clock()
    events = [
        c.event("gw", "ssh", "login", X, user="svc", password="a", success="true"),
        c.event("ws", "redis", "connect", "10.0.1.10"),
        c.event("gw", "ssh", "login", Y, user="svc", password="a", success="true"),
        c.event("ws", "redis", "connect", "10.0.1.10"),
        c.event("gw", "ssh", "login", X, user="svc", password="b", success="false"),
        c.event("ws", "redis", "command", "10.0.1.10", command="PING"),
    ]
    records = attackers_of(events, MAZE)
    assert [r["src_ip"] for r in records] == [X, Y]
    assert one(records, X)["events"] == 3  # a failed login holds nothing
    assert one(records, Y)["events"] == 3 and one(records, Y)["commands"] == ["PING"]
    assert one(records, Y)["depth"] == 1 and one(records, X)["depth"] == 1


def test_repeats_are_counted_and_unheld_deckies_speak_for_themselves() -> None:
    c = Clock()
    events = [
        c.event("web", "http", "request", X),
        c.event("web", "http", "login", X, user="admin", password="admin", success="0"),
        c.event("web", "http", "login", X, user="admin", password="admin", success="0"),
        c.event("ws", "redis", "connect", "10.0.0.10"),  # gw's address, but nobody holds gw
        c.event("web", "http", "request", None),  # no source: nobody's
    ]
    records = attackers_of(events, MAZE)
    assert [r["src_ip"] for r in records] == [X, "10.0.0.10"]
    assert one(records, X)["credentials"] == [
        {"service": "http", "username": "admin", "password": "admin", "hash": None,
         "success": False, "attempts": 2}]
    assert one(records, X)["depth"] == 0 and one(records, X)["pivots"] == 0
    assert one(records, "10.0.0.10")["path"][0]["via"] is None


def test_an_unknown_topology_keeps_the_event_lan_and_depth_zero() -> None:
    c = Clock()
    event = c.event("ws", "ssh", "connect", X)
    event["topology_id"] = "gone"
    (record,) = attackers_of([event], MAZE)
    assert record["lans"] == ["office"] and record["depth"] == 0


def test_maze_maps_follow_bridges_from_the_dmz() -> None:
    rows = [(T, "gw", "dmz", "10.0.0.10", True), (T, "gw", "office", "10.0.1.10", False),
            (T, "ws", "office", "10.0.1.20", False), (T, "ws", "vault", "10.0.2.20", False),
            (T, "lost", "island", "10.0.9.9", False)]
    maze = maze_maps(rows)[T]
    assert maze.depths == {"dmz": 0, "office": 1, "vault": 2}
    assert maze.addresses["10.0.2.20"] == ("ws", "vault")


def _add(session: Any, topology: Any, when: datetime, decky: str, kind: str, src: str,
         seq: int, **fields: Any) -> None:
    lan, ip = next(iter(topology.decky(decky).lans.items()))
    session.add(AttackEvent(ts=when, topology_id=topology.id, topology=topology.name,
                            decky=decky, lan=lan, service="ssh", event=kind, src_ip=src,
                            dst_ip=ip, fields=fields, source="agent", epoch="e", seq=seq))


def test_list_attackers_reads_the_stored_maze(engine: Engine, db_url: str, tmp_path: Any
                                              ) -> None:
    acme = sample_resolved()
    other = sample_resolved("other", "172.21")
    gw_office = acme.decky("gw01").lans["office"]
    files_vault = acme.decky("files01").lans["vault"]
    now = datetime.now(UTC)
    old = now - timedelta(hours=3)
    with session_scope(engine) as session:
        store_live(session, acme)
        store_live(session, other)
        _add(session, acme, old, "web01", "connect", Y, 1)
        _add(session, acme, now, "gw01", "login", X, 2, user="u", password="p", success="true")
        _add(session, acme, now, "files01", "login", gw_office, 3, username="a",
             password="b", success="true")
        _add(session, acme, now, "db01", "connect", files_vault, 4)
        _add(session, other, now, "web01", "connect", X, 5)
    settings = Settings(state_dir=tmp_path / "state", db_url=db_url, bus="null")

    everyone = list_attackers(settings)
    assert [r["src_ip"] for r in everyone] == [Y, X]
    assert one(everyone, X)["topologies"] == ["acme", "other"]
    acme_x = one(list_attackers(settings, topology="acme"), X)
    assert acme_x["deckies"] == ["gw01", "files01", "db01"]
    assert acme_x["lans"] == ["dmz", "office", "vault"] and acme_x["depth"] == 2
    assert [h["via"] for h in acme_x["path"]] == [None, "gw01", "files01"]
    assert list_attackers(settings, topology="acme", attacker=gw_office) == []
    assert [r["src_ip"] for r in list_attackers(settings, since="1h")] == [X]
    assert list_attackers(settings, topology="nope") == []
    with session_scope(engine) as session:
        rows = decky_addresses(session, [acme.id])
        assert (acme.id, "gw01", "office", gw_office, False) in rows


def test_list_attackers_without_a_database_is_empty(tmp_path: Any) -> None:
    settings = Settings(state_dir=tmp_path, db_url=f"sqlite:///{tmp_path / 'none.db'}",
                        bus="null")
    assert list_attackers(settings) == []
    assert not (tmp_path / "none.db").exists()  # reading created nothing


def test_iter_events_pages_through_equal_timestamps(engine: Engine) -> None:
    acme = sample_resolved()
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        store_live(session, acme)
        for seq in range(1, 8):
            _add(session, acme, now if seq < 6 else now + timedelta(seconds=1), "web01",
                 "connect", X, seq)
    with session_scope(engine) as session:
        seqs = [row.seq for row in iter_events(session, topology_id=acme.id, page=2)]
    assert seqs == [1, 2, 3, 4, 5, 6, 7]
