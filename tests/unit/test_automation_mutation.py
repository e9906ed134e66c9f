"""decnet_lib.automation: decnet_mutation (idempotent ops, check mode, wait, queue)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from automation_fakes import FakeWorld, connection, document

from decnet_lib.automation import (
    AutomationError,
    mutation,
    topology_deployed,
    topology_info,
    topology_present,
)
from decnet_lib.db import Mutation, get_topology, make_engine, new_session
from decnet_lib.mutations.reconciler import Waited

ADD = {"name": "db01", "lan": "office", "services": ["mysql"]}


@pytest.fixture
def world() -> FakeWorld:
    return FakeWorld()


def _mutations(db_url: str) -> list[tuple[str, str]]:
    engine = make_engine(db_url)
    try:
        with new_session(engine) as session:
            return [(m.op, m.state) for m in session.query(Mutation).order_by(Mutation.id)]
    finally:
        engine.dispose()


def _hash(db_url: str) -> str:
    engine = make_engine(db_url)
    try:
        with new_session(engine) as session:
            row = get_topology(session, "lab")
            assert row is not None
            return row.hash
    finally:
        engine.dispose()


def test_add_then_unchanged_then_remove(db_url: str, world: FakeWorld) -> None:
    conn = connection(db_url, world)
    deployed = topology_deployed(conn, spec=document())
    added = mutation(conn, "lab", "add_decky", ADD)
    assert added["changed"] and added["mutation"]["state"] == "applied"
    assert added["status"] == "active"
    assert "db01" not in [d["name"] for d in added["diff"]["before"]["deckies"]]
    assert "db01" in [d["name"] for d in added["diff"]["after"]["deckies"]]
    # pushed to the target: the fake now runs the new hash
    assert world.running[deployed["summary"]["id"]]["hash"] == _hash(db_url)

    again = mutation(conn, "lab", "add_decky", ADD)
    assert not again["changed"] and again["mutation"] is None
    assert _mutations(db_url) == [("add_decky", "applied")]

    removed = mutation(conn, "lab", "remove_decky", {"decky": "db01"})
    assert removed["changed"]
    assert not mutation(conn, "lab", "remove_decky", {"decky": "db01"})["changed"]
    assert _mutations(db_url) == [("add_decky", "applied"), ("remove_decky", "applied")]
    assert topology_info(conn, "lab")["healthy"]


def test_check_mode_queues_nothing(db_url: str, world: FakeWorld) -> None:
    conn = connection(db_url, world)
    topology_deployed(conn, spec=document())
    before = _hash(db_url)
    result = mutation(conn, "lab", "add_decky", ADD, check_mode=True)
    assert result["changed"] and result["mutation"]["state"] == "would_enqueue"
    assert len(result["diff"]["after"]["deckies"]) == len(result["diff"]["before"]["deckies"]) + 1
    assert _mutations(db_url) == [] and _hash(db_url) == before
    unchanged = mutation(conn, "lab", "remove_decky", {"decky": "nope"}, check_mode=True)
    assert not unchanged["changed"]


def test_without_wait_it_is_queued_once(tmp_path: Path, world: FakeWorld) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    conn = connection(url, world)
    topology_deployed(conn, spec=document())
    first = mutation(conn, "lab", "add_decky", ADD, wait=False)
    assert first["changed"] and first["mutation"]["state"] == "pending"
    # the same op again: its effect is already queued
    second = mutation(conn, "lab", "add_decky", ADD, wait=False)
    assert not second["changed"] and second["queued"] == 1
    # with wait, the queued one is drained (applied) and nothing new is queued
    drained = mutation(conn, "lab", "add_decky", ADD, wait=True)
    assert not drained["changed"] and drained["mutation"]["state"] == "applied"
    assert _mutations(url) == [("add_decky", "applied")]


def test_an_op_that_would_break_the_topology_fails_before_queueing(
    tmp_path: Path, world: FakeWorld
) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    conn = connection(url, world)
    topology_deployed(conn, spec=document())
    with pytest.raises(AutomationError) as caught:
        mutation(conn, "lab", "add_decky", {"name": "x1", "lan": "office", "ip": "10.9.9.9"})
    assert caught.value.code == "INVALID_TOPOLOGY"
    assert "IP_OUT_OF_SUBNET" in {i["code"] for i in caught.value.details["issues"]}
    with pytest.raises(AutomationError) as caught:
        mutation(conn, "lab", "detach_decky", {"decky": "gw01", "lan": "dmz"})
    assert caught.value.code == "LAN_IS_HOME"
    with pytest.raises(AutomationError) as caught:
        mutation(conn, "lab", "add_decky", {"name": "x1"})
    assert caught.value.code == "BAD_PAYLOAD"
    assert _mutations(url) == []


def test_a_failed_mutation_fails_the_module(
    tmp_path: Path, world: FakeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When applying it fails after all (the topology changed meanwhile), the module fails
    with the mutation's error."""
    backend = importlib.import_module("decnet_lib.master.mutations")

    def failing_wait(engine, mutation_id, push=None, timeout=60.0):  # type: ignore[no-untyped-def]
        with new_session(engine) as session:
            row = session.get(Mutation, mutation_id)
            assert row is not None
            row.state = "failed"
            row.error = {"code": "IP_COLLISION", "message": "10.231.1.99 is taken"}
            session.commit()
            return Waited(row)

    url = f"sqlite:///{tmp_path / 'd.db'}"
    conn = connection(url, world)
    topology_deployed(conn, spec=document())
    monkeypatch.setattr(backend, "wait_for_mutation", failing_wait)
    with pytest.raises(AutomationError) as caught:
        mutation(conn, "lab", "add_decky", {**ADD, "ip": "10.231.1.99"})
    assert caught.value.code == "IP_COLLISION"
    assert "10.231.1.99 is taken" in caught.value.message
    assert caught.value.details["mutation"]["state"] == "failed"


def test_a_queued_op_that_fails_does_not_block_ours(tmp_path: Path, world: FakeWorld) -> None:
    """An op queued before ours fails when applied; ours still applies (FIFO, one by one)."""
    url = f"sqlite:///{tmp_path / 'd.db'}"
    conn = connection(url, world)
    topology_deployed(conn, spec=document())
    mutation(conn, "lab", "add_decky", {**ADD, "ip": "10.231.1.99"}, wait=False)
    engine = make_engine(url)
    try:
        with new_session(engine) as session:  # queued by someone else, behind the first
            topology = get_topology(session, "lab")
            assert topology is not None
            session.add(Mutation(topology_id=topology.id, op="add_decky", state="pending",
                                 payload={"name": "db02", "lan": "office", "ip": "10.231.1.99"}))
            session.commit()
    finally:
        engine.dispose()
    result = mutation(conn, "lab", "add_decky", {"name": "db03", "lan": "office"})
    assert result["changed"] and result["mutation"]["state"] == "applied"
    assert _mutations(url) == [("add_decky", "applied"), ("add_decky", "failed"),
                               ("add_decky", "applied")]


def test_refused_unless_live(tmp_path: Path, world: FakeWorld) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    conn = connection(url, world)
    with pytest.raises(AutomationError) as caught:
        mutation(conn, "lab", "add_decky", ADD)
    assert caught.value.code == "NOT_FOUND"
    topology_present(conn, spec=document())
    with pytest.raises(AutomationError) as caught:
        mutation(conn, "lab", "add_decky", ADD)
    assert caught.value.code == "REFUSED" and "pending" in caught.value.message
    # in check mode an earlier task would have deployed it: assume the change, warn
    assumed = mutation(conn, "lab", "add_decky", ADD, check_mode=True)
    assert assumed["changed"] and assumed["warnings"]
    assert _mutations(url) == []
