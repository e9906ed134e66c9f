"""Deleting a topology: cascades to every child table; refused by status and running containers."""

from __future__ import annotations

import pytest
from helpers import TOPOLOGY_TABLES, count_rows, sample_resolved
from sqlalchemy import Engine, update

from decnet_lib.db import (
    STATUSES,
    Mutation,
    Topology,
    create_topology,
    delete_topology,
    get_topology,
    load_resolved,
    require_topology,
    session_scope,
    transition,
)
from decnet_lib.errors import NotFound, Refused

DELETABLE = {"pending", "failed", "torn_down"}


def nothing_runs(_topology_id: str) -> list[str]:
    return []


def _create_busy(engine: Engine, name: str = "acme", prefix: str = "172.20") -> str:
    """A topology with events and mutations besides its LANs, deckies and edges."""
    with session_scope(engine) as session:
        row = create_topology(session, sample_resolved(name, prefix))
        transition(session, row, "deploying", "deploy")
        transition(session, row, "failed", "boom")
        session.add_all([
            Mutation(topology_id=row.id, op="add_lan", payload={"name": "x"}),
            Mutation(topology_id=row.id, op="remove_decky", payload={"decky": "db01"},
                     state="failed", error={"issues": []}),
        ])
        return row.id


def _set_status(engine: Engine, status: str) -> None:
    with session_scope(engine) as session:
        session.execute(update(Topology).where(Topology.name == "acme").values(status=status))


def test_delete_cascades_to_every_child_table(engine: Engine) -> None:
    _create_busy(engine)
    counts = count_rows(engine, TOPOLOGY_TABLES)
    assert all(counts.values()), counts  # every table of the topology has rows before
    with session_scope(engine) as session:
        delete_topology(session, "acme", running_containers=nothing_runs)
    assert set(count_rows(engine).values()) == {0}


def test_delete_leaves_other_topologies_alone(engine: Engine) -> None:
    _create_busy(engine)
    _create_busy(engine, "other", "10.40")
    with session_scope(engine) as session:
        kept = load_resolved(session, require_topology(session, "other"))
        delete_topology(session, "acme", running_containers=nothing_runs)
    with session_scope(engine) as session:
        assert get_topology(session, "acme") is None
        assert load_resolved(session, require_topology(session, "other")) == kept
    counts = count_rows(engine)
    assert counts["topologies"] == 1 and counts["mutations"] == 2
    assert counts["topology_events"] == 3


@pytest.mark.parametrize("force", [False, True])
def test_delete_is_refused_by_status_unless_forced(engine: Engine, force: bool) -> None:
    _create_busy(engine)
    for status in STATUSES:
        _set_status(engine, status)
        if status in DELETABLE or force:
            with session_scope(engine) as session:
                delete_topology(session, "acme", force=force, running_containers=nothing_runs)
            _create_busy(engine)
        else:
            with pytest.raises(Refused, match=status) as raised, session_scope(engine) as s:
                delete_topology(s, "acme", force=force, running_containers=nothing_runs)
            assert "\n" not in str(raised.value)
            assert count_rows(engine)["topologies"] == 1


@pytest.mark.parametrize("force", [False, True])
@pytest.mark.parametrize("status", ["torn_down", "active"])
def test_running_containers_always_refuse(engine: Engine, force: bool, status: str) -> None:
    topology_id = _create_busy(engine)
    _set_status(engine, status)
    asked: list[str] = []

    def still_running(asked_id: str) -> list[str]:
        asked.append(asked_id)
        return ["dn-12345678-gw01", "dn-12345678-gw01-ssh"]

    refused_by_status = status == "active" and not force
    expected = "tear it down first" if refused_by_status else "dn-12345678-gw01"
    with pytest.raises(Refused, match=expected), session_scope(engine) as session:
        delete_topology(session, "acme", force=force, running_containers=still_running)
    assert asked == ([] if refused_by_status else [topology_id])
    assert count_rows(engine)["deckies"] == 4


def test_delete_of_an_unknown_topology(engine: Engine) -> None:
    with pytest.raises(NotFound), session_scope(engine) as session:
        delete_topology(session, "ghost", running_containers=nothing_runs)
