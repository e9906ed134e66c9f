"""decnet_lib.automation: state=torn_down and state=absent, and the module entry points."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from automation_fakes import FakeWorld, connection, document

from decnet_lib.automation import (
    AutomationError,
    run_topology,
    topology_absent,
    topology_deployed,
    topology_present,
    topology_torn_down,
)
from decnet_lib.db import Topology, TopologyEvent, get_topology, make_engine, new_session


@pytest.fixture
def world() -> FakeWorld:
    return FakeWorld()


def _status(db_url: str, name: str) -> str | None:
    engine = make_engine(db_url)
    try:
        with new_session(engine) as session:
            row = get_topology(session, name)
            return row.status if row else None
    finally:
        engine.dispose()


def _count(db_url: str, model: type) -> int:
    engine = make_engine(db_url)
    try:
        with new_session(engine) as session:
            return session.query(model).count()
    finally:
        engine.dispose()


def test_absent_tears_down_then_deletes(db_url: str, world: FakeWorld) -> None:
    conn = connection(db_url, world)
    deployed = topology_deployed(conn, spec=document())
    check = topology_absent(conn, "lab", check_mode=True)
    assert check["changed"] and check["action"] == "teardown+delete"
    assert check["diff"]["after"] == {} and check["diff"]["before"]["name"] == "lab"
    assert _status(db_url, "lab") == "active" and world.running

    result = topology_absent(conn, "lab")
    assert result["changed"] and result["deleted"]["id"] == deployed["summary"]["id"]
    assert _status(db_url, "lab") is None and world.running == {}
    assert _count(db_url, TopologyEvent) == 0  # cascaded
    again = topology_absent(conn, "lab")
    assert not again["changed"] and again["status"] == "absent"


def test_absent_asks_the_target_with_no_database_lock_held(
    tmp_path: Path, world: FakeWorld
) -> None:
    """An agent may take long to answer: meanwhile the reconciler must be able to write."""
    path = tmp_path / "decnet.db"
    conn = connection(f"sqlite:///{path}", world)
    topology_deployed(conn, spec=document())
    asked: list[bool] = []

    def another_writer() -> None:
        other = sqlite3.connect(path, timeout=0)
        try:
            other.execute("BEGIN IMMEDIATE")  # "database is locked" if a task held it
            other.rollback()
            asked.append(True)
        finally:
            other.close()

    world.on_running = another_writer
    assert topology_absent(conn, "lab")["changed"]
    assert asked and _status(f"sqlite:///{path}", "lab") is None


def test_absent_of_a_never_deployed_topology_only_deletes(db_url: str, world: FakeWorld) -> None:
    conn = connection(db_url, world)
    topology_present(conn, spec=document())
    result = topology_absent(conn, "lab")
    assert result["action"] == "delete"
    assert not [c for c in world.calls if c[0] == "teardown"]
    assert _count(db_url, Topology) == 0


def test_absent_check_mode_without_a_database(tmp_path: Path, world: FakeWorld) -> None:
    path = tmp_path / "nothing" / "decnet.db"
    result = topology_absent(connection(f"sqlite:///{path}", world), "lab", check_mode=True)
    assert not result["changed"]
    assert not path.parent.exists()


def test_torn_down_keeps_it_stored(tmp_path: Path, world: FakeWorld) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    conn = connection(url, world)
    topology_deployed(conn, spec=document())
    check = topology_torn_down(conn, "lab", check_mode=True)
    assert check["changed"] and check["diff"]["after"]["status"] == "torn_down"
    assert _status(url, "lab") == "active"
    result = topology_torn_down(conn, "lab")
    assert result["changed"] and result["status"] == "torn_down"
    assert world.running == {}
    assert not topology_torn_down(conn, "lab")["changed"]
    # and it can be deployed again from its stored form
    assert topology_deployed(conn, name="lab")["status"] == "active"
    with pytest.raises(AutomationError) as caught:
        topology_torn_down(conn, "ghost")
    assert caught.value.code == "NOT_FOUND"


def test_run_topology_dispatches_module_parameters(tmp_path: Path, world: FakeWorld) -> None:
    """The decnet_topology module's parameters, as AnsibleModule hands them over."""
    url = f"sqlite:///{tmp_path / 'd.db'}"
    params = {"name": None, "src": None, "spec": document(), "state": "present",
              "replace": False, "db_url": url, "state_dir": None, "agent_url": None,
              "client_cert": None, "client_key": None, "ca_cert": None}

    def call(**changes: object) -> dict:
        from decnet_lib.automation import topology as backend

        original = backend.Connection.targets
        backend.Connection.targets = lambda self: world.factory  # type: ignore[method-assign]
        try:
            return run_topology({**params, **changes})
        finally:
            backend.Connection.targets = original  # type: ignore[method-assign]

    assert call()["changed"]
    assert call(state="deployed")["status"] == "active"
    # absent takes the name from the document when no name is given
    assert call(state="absent")["changed"]
    assert _status(url, "lab") is None
    with pytest.raises(AutomationError, match="unknown state"):
        call(state="exploded")
