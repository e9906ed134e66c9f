"""The resolved-topology cache behind `stored_topology` (the API's show): a repeat read is
served from the cache, and any write (a direct edit, a status change, delete and re-create)
is seen by the next read. On SQLite and MariaDB."""

from __future__ import annotations

from sqlalchemy import Engine

from decnet_lib.db import get_topology
from decnet_lib.db.status import transition
from decnet_lib.master.database import write_session
from decnet_lib.master.edits import edit_decky
from decnet_lib.master.info import list_with_targets, stored_topology
from decnet_lib.master.resolved_cache import RESOLVED, ResolvedCache, cache_key, stamp
from decnet_lib.master.topologies import create_in, delete_in
from decnet_lib.topology.render import summary

DOC = {"name": "cachemaze", "lans": [{"name": "dmz", "subnet": "10.231.50.0/24", "dmz": True}],
       "deckies": [{"name": "web01", "services": ["http"], "lans": {"dmz": None}}]}


def services_of(engine: Engine) -> list[str]:
    found = stored_topology(engine, "cachemaze")
    assert found is not None
    return found.resolved.deckies[0].services


def test_a_repeat_read_is_cached_and_every_write_is_seen(engine: Engine) -> None:
    RESOLVED.clear()
    create_in(engine, DOC)
    first = stored_topology(engine, "cachemaze")
    again = stored_topology(engine, "cachemaze")
    assert first is not None and again is not None
    assert again.resolved is first.resolved  # no rebuild while nothing changed
    listed = list_with_targets(engine)
    assert stored_topology(engine, "cachemaze").resolved is first.resolved  # type: ignore[union-attr]

    assert edit_decky(engine, "cachemaze", "web01", services=["http", "ssh"]).mode == "direct"
    assert services_of(engine) == ["http", "ssh"]
    assert list_with_targets(engine) != listed  # the summary carries the new hash

    with write_session(engine) as session:
        row = get_topology(session, "cachemaze")
        assert row is not None
        transition(session, row, "deploying", "test")
    found = stored_topology(engine, "cachemaze")
    assert found is not None and found.resolved.status == "deploying"

    with write_session(engine) as session:
        row = get_topology(session, "cachemaze")
        assert row is not None
        transition(session, row, "failed", "test")
    delete_in(engine, "cachemaze", force=True)
    assert stored_topology(engine, "cachemaze") is None
    create_in(engine, DOC)
    assert services_of(engine) == ["http"]


def test_the_cache_is_bounded(engine: Engine) -> None:
    cache = ResolvedCache(size=1)
    create_in(engine, DOC)
    create_in(engine, {**DOC, "name": "othermaze",
                       "lans": [{"name": "dmz", "subnet": "10.231.51.0/24", "dmz": True}]})
    built: list[str] = []
    with write_session(engine) as session:
        rows = [get_topology(session, name) for name in ("cachemaze", "othermaze")]

        def build(name: str) -> object:
            built.append(name)
            return object()

        for row in (*rows, rows[0], rows[0]):
            assert row is not None
            cache.get(cache_key(engine, row.id), stamp(row),
                      lambda row=row: build(row.name))  # type: ignore[misc]
    assert built == ["cachemaze", "othermaze", "cachemaze"]  # size 1: the first was evicted


def test_list_summaries_count_what_the_resolved_form_holds(engine: Engine) -> None:
    """The list counts LANs and deckies in SQL: the same figures as each resolved form."""
    create_in(engine, DOC)
    two_lans = {"name": "widemaze", "lans": [
        {"name": "dmz", "subnet": "10.231.51.0/24", "dmz": True},
        {"name": "office", "subnet": "10.231.52.0/24"}],
        "deckies": [{"name": f"pc{n}", "services": ["ssh"], "lans": {"office": None}}
                    for n in range(3)]
        + [{"name": "gw", "services": ["ssh"], "forwards_l3": True,
            "lans": {"dmz": None, "office": None}}]}
    create_in(engine, two_lans)
    assert edit_decky(engine, "widemaze", "pc0", services=["ssh", "http"]).mode == "direct"
    expected = []
    for name in ("cachemaze", "widemaze"):
        found = stored_topology(engine, name)
        assert found is not None
        expected.append(summary(found.resolved))
    listed = list_with_targets(engine)
    assert [{key: row[key] for key in expected[0]} for row in listed] == expected
    assert [(row["lans"], row["deckies"]) for row in listed] == [(1, 1), (2, 4)]
