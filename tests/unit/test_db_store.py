"""Storing and loading resolved topologies: round trip, atomicity, fallbacks, updates, scale."""

from __future__ import annotations

import time

import pytest
from helpers import big_yaml, count_rows, resolve_yaml, sample_resolved
from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from decnet_lib.db import (
    Decky,
    Edge,
    Lan,
    Topology,
    create_topology,
    get_topology,
    list_topologies,
    load_resolved,
    require_topology,
    save_resolved,
    session_scope,
)
from decnet_lib.errors import AlreadyExists, NotFound
from decnet_lib.topology.hashing import canonical_hash
from decnet_lib.topology.resolve import image_map, new_id
from decnet_lib.topology.resolved import ResolvedDecky, ResolvedLan, ResolvedTopology

EMPTY = {"topologies": 0, "lans": 0, "deckies": 0, "edges": 0, "topology_events": 0,
         "mutations": 0, "events": 0, "ingest_cursors": 0, "api_tokens": 0}


def _store(engine: Engine, resolved: ResolvedTopology) -> None:
    with session_scope(engine) as session:
        create_topology(session, resolved)


def _load(engine: Engine, name: str) -> ResolvedTopology:
    with session_scope(engine) as session:
        return load_resolved(session, require_topology(session, name))


def test_round_trip_keeps_every_field_hash_and_order(engine: Engine) -> None:
    resolved = sample_resolved()
    _store(engine, resolved)
    loaded = _load(engine, "acme")
    assert loaded == resolved
    # == on models ignores dict order; the JSON text does not (home LAN first)
    assert loaded.model_dump_json() == resolved.model_dump_json()
    assert [d.name for d in loaded.deckies] == ["gw01", "web01", "files01", "db01"]
    assert [lan.name for lan in loaded.lans] == ["dmz", "office", "vault"]
    assert list(loaded.decky("files01").lans) == ["office", "vault"]
    assert loaded.hash == resolved.hash == canonical_hash(loaded.model_dump())
    assert loaded.status == "pending"


def test_stored_rows_match_the_resolved_form(engine: Engine, session: Session) -> None:
    resolved = sample_resolved()
    _store(engine, resolved)
    row = require_topology(session, "acme")
    assert (row.id, row.status, row.version, row.agent) == (resolved.id, "pending", 1, None)
    assert row.created_at.tzinfo is not None
    edges = session.execute(
        select(Decky.name, Lan.name, Edge.ip, Edge.position)
        .join(Decky, Edge.decky_id == Decky.id).join(Lan, Edge.lan_id == Lan.id)
        .order_by(Decky.position, Edge.position)
    ).all()
    expected = [
        (decky.name, lan, ip, position)
        for decky in resolved.deckies
        for position, (lan, ip) in enumerate(decky.lans.items())
    ]
    assert [tuple(edge) for edge in edges] == expected
    assert [e.to_status for e in row.events] == ["pending"]


def test_get_require_and_list(engine: Engine, session: Session) -> None:
    _store(engine, sample_resolved("zeta", "172.21"))
    _store(engine, sample_resolved("alpha", "172.22"))
    assert get_topology(session, "nope") is None
    with pytest.raises(NotFound, match="nope"):
        require_topology(session, "nope")
    assert [row.name for row in list_topologies(session)] == ["alpha", "zeta"]


def test_duplicate_name_is_refused_and_the_first_is_untouched(engine: Engine) -> None:
    first = sample_resolved()
    _store(engine, first)
    with pytest.raises(AlreadyExists, match="acme"), session_scope(engine) as session:
        create_topology(session, sample_resolved(prefix="10.9"))
    assert _load(engine, "acme") == first
    assert count_rows(engine)["topologies"] == 1


def _with_duplicate_decky_name(resolved: ResolvedTopology) -> ResolvedTopology:
    twin = resolved.deckies[-1].model_copy(update={"id": new_id()})
    return resolved.model_copy(update={"deckies": [*resolved.deckies, twin]})


def _with_duplicate_lan_name(resolved: ResolvedTopology) -> ResolvedTopology:
    twin = resolved.lans[-1].model_copy(update={"id": new_id()})
    return resolved.model_copy(update={"lans": [*resolved.lans, twin]})


@pytest.mark.parametrize("craft", [_with_duplicate_decky_name, _with_duplicate_lan_name])
def test_a_failed_create_leaves_nothing_even_if_the_caller_commits(
    engine: Engine, session_factory: sessionmaker[Session], craft
) -> None:
    broken = craft(sample_resolved())
    with session_factory() as session:
        with pytest.raises(IntegrityError):
            create_topology(session, broken)
        session.commit()  # the savepoint was rolled back: nothing of it is committed
    assert count_rows(engine) == EMPTY


def test_a_failure_midway_leaves_nothing_on_rollback(engine: Engine) -> None:
    """The topology and LANs are written before the deckies clash with another topology."""
    first = sample_resolved()
    _store(engine, first)
    clash = sample_resolved("other", "10.30")
    clash.deckies[2] = clash.deckies[2].model_copy(update={"id": first.deckies[0].id})
    before = count_rows(engine)
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        create_topology(session, clash)
    assert count_rows(engine) == before
    assert _load(engine, "acme") == first


def test_unknown_lan_in_a_crafted_decky_writes_nothing(engine: Engine) -> None:
    resolved = sample_resolved()
    resolved.deckies[0] = resolved.deckies[0].model_copy(update={"lans": {"ghost": "1.2.3.4"}})
    with pytest.raises(ValueError, match="ghost"), session_scope(engine) as session:
        create_topology(session, resolved)
    assert count_rows(engine) == EMPTY


def test_show_falls_back_when_the_config_blob_is_null(engine: Engine) -> None:
    resolved = sample_resolved()
    _store(engine, resolved)
    with session_scope(engine) as session:
        session.execute(update(Decky).where(Decky.name == "gw01").values(config=None))
    with session_scope(engine) as session:
        assert session.scalar(select(Decky.id).where(Decky.config.is_(None))) is not None
    loaded = _load(engine, "acme").decky("gw01")
    original = resolved.decky("gw01")
    assert loaded.name == original.name
    assert loaded.services == original.services
    assert loaded.lans == original.lans
    assert loaded.service_config == {}
    assert loaded.meta == {}
    assert loaded.images == image_map(original.services, {})
    assert _load(engine, "acme").decky("web01") == resolved.decky("web01")


def _changed(resolved: ResolvedTopology) -> ResolvedTopology:
    """Add and remove a LAN and deckies, rename, re-address, reorder, reconfigure."""
    lans = [lan for lan in resolved.lans if lan.name != "vault"]
    lans.append(ResolvedLan(id=new_id(), name="lab", subnet="172.20.9.0/24",
                            gateway="172.20.9.1"))
    gw01, web01, files01, _db01 = resolved.deckies
    deckies = [
        web01.model_copy(update={"name": "gw01"}),  # takes the name gw01 is giving up
        gw01.model_copy(update={
            "name": "web01",
            "lans": {"office": gw01.lans["office"], "dmz": "172.20.0.77"},
            "service_config": {"ssh": {"banner": "SSH-2.0-changed"}},
        }),
        files01.model_copy(update={"lans": {"office": files01.lans["office"],
                                            "lab": "172.20.9.5"}}),
        ResolvedDecky(id=new_id(), name="new01", services=["telnet"],
                      lans={"lab": "172.20.9.6"}, images={"telnet": "x/telnet:1"}),
    ]
    changed = resolved.model_copy(update={"lans": lans, "deckies": deckies})
    changed.hash = canonical_hash(changed.model_dump())
    return changed


def test_save_resolved_replaces_the_content_and_keeps_kept_ids(engine: Engine) -> None:
    resolved = sample_resolved()
    _store(engine, resolved)
    with session_scope(engine) as session:
        kept_edge = session.scalar(
            select(Edge.id).join(Decky, Edge.decky_id == Decky.id)
            .where(Decky.name == "files01", Edge.position == 0)
        )
    changed = _changed(resolved)
    with session_scope(engine) as session:
        row = require_topology(session, "acme")
        assert [d.name for d in row.deckies]  # a loaded collection must not go stale
        save_resolved(session, row, changed)
        assert [d.name for d in row.deckies] == ["gw01", "web01", "files01", "new01"]
    loaded = _load(engine, "acme")
    assert loaded.model_dump_json() == changed.model_dump_json()
    assert loaded.hash == changed.hash != resolved.hash
    with session_scope(engine) as session:
        row = require_topology(session, "acme")
        assert row.version == 2
        assert session.scalar(
            select(Edge.id).join(Decky, Edge.decky_id == Decky.id)
            .where(Decky.name == "files01", Edge.position == 0)
        ) == kept_edge
    assert count_rows(engine)["lans"] == 3
    assert count_rows(engine)["edges"] == 6


def test_save_resolved_rolls_back_with_the_transaction(engine: Engine) -> None:
    resolved = sample_resolved()
    _store(engine, resolved)
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        save_resolved(session, require_topology(session, "acme"), _changed(resolved))
        raise RuntimeError("abort")
    assert _load(engine, "acme") == resolved


def test_save_resolved_refuses_another_topology(engine: Engine, session: Session) -> None:
    _store(engine, sample_resolved())
    row = require_topology(session, "acme")
    with pytest.raises(ValueError, match="is not"):
        save_resolved(session, row, sample_resolved("other"))


def test_ten_thousand_deckies_in_a_few_seconds(engine: Engine) -> None:
    big = resolve_yaml(big_yaml("big", 10_000))
    started = time.perf_counter()
    _store(engine, big)
    elapsed = time.perf_counter() - started
    assert elapsed < 10, f"creating 10,000 deckies took {elapsed:.1f} s"
    assert count_rows(engine)["deckies"] == 10_000
    loaded = _load(engine, "big")
    assert loaded.model_dump_json() == big.model_dump_json()
    with session_scope(engine) as session:
        assert session.scalar(select(Topology.hash)) == big.hash
