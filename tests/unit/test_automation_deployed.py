"""decnet_lib.automation: state=deployed (persist, predecessor rule, idempotence, check mode)."""

from __future__ import annotations

from pathlib import Path

import pytest
from automation_fakes import FakeWorld, connection, document

from decnet_lib.automation import AutomationError, topology_deployed, topology_info
from decnet_lib.db import get_topology, make_engine, new_session

AGENT = "https://agent1.example:8765"


@pytest.fixture
def world() -> FakeWorld:
    return FakeWorld()


def _row(db_url: str, name: str) -> tuple[str, str | None, str] | None:
    engine = make_engine(db_url)
    try:
        with new_session(engine) as session:
            row = get_topology(session, name)
            return (row.status, row.agent, row.hash) if row else None
    finally:
        engine.dispose()


def test_deploys_then_is_idempotent(db_url: str, world: FakeWorld) -> None:
    conn = connection(db_url, world)
    result = topology_deployed(conn, spec=document())
    assert result["changed"] and result["status"] == "active"
    assert result["diff"]["before"] == {}
    assert result["diff"]["after"]["status"] == "active"
    assert _row(db_url, "lab") == ("active", "local", result["summary"]["hash"])
    applies = [c for c in world.calls if c[0] == "apply"]
    assert len(applies) == 1

    again = topology_deployed(conn, spec=document())
    assert not again["changed"] and again["status"] == "active"
    assert [c for c in world.calls if c[0] == "apply"] == applies


def test_reapplies_when_the_target_drifted(tmp_path: Path, world: FakeWorld) -> None:
    conn = connection(f"sqlite:///{tmp_path / 'd.db'}", world)
    first = topology_deployed(conn, spec=document())
    world.running[first["summary"]["id"]]["up"] = False  # a container crashed
    check = topology_deployed(conn, spec=document(), check_mode=True)
    assert check["changed"] and check["plan"]["summary"]["changed"]
    healed = topology_deployed(conn, spec=document())
    assert healed["changed"] and healed["status"] == "active"
    assert world.running[first["summary"]["id"]]["up"]


def test_check_mode_plans_only(tmp_path: Path, world: FakeWorld) -> None:
    path = tmp_path / "state" / "decnet.db"
    conn = connection(f"sqlite:///{path}", world)
    result = topology_deployed(conn, spec=document(), check_mode=True)
    assert result["changed"] and result["plan"]["summary"]["changed"]
    assert result["diff"]["after"]["status"] == "active"
    assert not path.parent.exists()
    assert world.running == {} and not [c for c in world.calls if c[0] != "plan"]


def test_check_mode_on_a_stored_active_topology(db_url: str, world: FakeWorld) -> None:
    conn = connection(db_url, world)
    topology_deployed(conn, spec=document())
    before, calls = _row(db_url, "lab"), len(world.calls)
    result = topology_deployed(conn, name="lab", check_mode=True)
    assert not result["changed"]
    assert _row(db_url, "lab") == before
    assert all(c[0] == "plan" for c in world.calls[calls:])


def test_predecessor_on_the_same_agent_is_torn_down_first(db_url: str,
                                                          world: FakeWorld) -> None:
    old = topology_deployed(connection(db_url, world, AGENT), spec=document("old", third=10))
    other_agent = topology_deployed(connection(db_url, world, "https://agent2:8765"),
                                    spec=document("elsewhere", third=20))
    conn = connection(db_url, world, AGENT)
    check = topology_deployed(conn, spec=document("new", third=30), check_mode=True)
    assert check["predecessors"] == ["old"]
    assert _row(db_url, "old")[0] == "active"  # type: ignore[index]

    result = topology_deployed(conn, spec=document("new", third=30))
    assert result["predecessors"] == ["old"]
    assert _row(db_url, "old")[0] == "torn_down"  # type: ignore[index]
    assert old["summary"]["id"] not in world.running
    assert other_agent["summary"]["id"] in world.running
    assert _row(db_url, "elsewhere")[0] == "active"  # type: ignore[index]
    teardown_at = world.calls.index(("teardown", AGENT, old["summary"]["id"]))
    assert teardown_at < world.calls.index(("apply", AGENT, "new"))


def test_no_predecessor_rule_on_this_machine(tmp_path: Path, world: FakeWorld) -> None:
    conn = connection(f"sqlite:///{tmp_path / 'd.db'}", world)
    topology_deployed(conn, spec=document("one", third=10))
    result = topology_deployed(conn, spec=document("two", third=20))
    assert result["predecessors"] == []
    assert _row(f"sqlite:///{tmp_path / 'd.db'}", "one")[0] == "active"  # type: ignore[index]


def test_a_failed_deploy_fails_the_module(tmp_path: Path, world: FakeWorld) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    world.fail_next_apply = True
    with pytest.raises(AutomationError) as caught:
        topology_deployed(connection(url, world), spec=document())
    assert caught.value.code == "DEPLOY_FAILED"
    assert "boom" in caught.value.message
    assert _row(url, "lab")[0] == "failed"  # type: ignore[index]
    assert topology_deployed(connection(url, world), name="lab")["status"] == "active"


def test_deployed_by_name_needs_a_stored_topology(tmp_path: Path, world: FakeWorld) -> None:
    conn = connection(f"sqlite:///{tmp_path / 'd.db'}", world)
    with pytest.raises(AutomationError) as caught:
        topology_deployed(conn, name="ghost")
    assert caught.value.code == "NOT_FOUND"
    with pytest.raises(AutomationError, match="does not match"):
        topology_deployed(conn, name="other", spec=document())


def test_moving_to_another_target_is_refused(tmp_path: Path, world: FakeWorld) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    topology_deployed(connection(url, world, AGENT), spec=document())
    with pytest.raises(AutomationError) as caught:
        topology_deployed(connection(url, world, "https://agent2:8765"), spec=document())
    assert caught.value.code == "REFUSED" and "state=torn_down" in caught.value.message


def test_replace_updates_a_live_topology_in_place(tmp_path: Path, world: FakeWorld) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    conn = connection(url, world)
    first = topology_deployed(conn, spec=document())
    with pytest.raises(AutomationError) as caught:
        topology_deployed(conn, spec=document(deckies=3))
    assert caught.value.code == "DEFINITION_CHANGED"
    result = topology_deployed(conn, spec=document(deckies=3), replace=True)
    assert result["changed"] and result["action"] == "replace"
    assert result["summary"]["id"] == first["summary"]["id"]
    assert world.running[first["summary"]["id"]]["hash"] == result["summary"]["hash"]
    assert not topology_deployed(conn, spec=document(deckies=3))["changed"]


def test_info_reports_health_and_access(tmp_path: Path, world: FakeWorld) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    conn = connection(url, world)
    assert topology_info(conn) == {"changed": False, "exists": False, "topologies": []}
    deployed = topology_deployed(conn, spec=document(deckies=3))
    listing = topology_info(conn)
    assert [(t["name"], t["status"], t["target"]) for t in listing["topologies"]] == [
        ("lab", "active", "local")]
    info = topology_info(conn, "lab")
    assert info["exists"] and info["status"] == "active" and info["target"] == "local"
    assert info["expected_containers"] == 6  # 3 bases + 3 services
    assert info["healthy"] and info["running_containers"] == 6 and not info["missing_containers"]
    assert [e["to"] for e in info["events"]][-2:] == ["deploying", "active"]
    gw = next(a for a in info["access"] if a["decky"] == "gw01")
    assert gw["reachable_from_host"] and gw["services"][0]["probe"].startswith("nc -w 3 10.231.0.")
    ws = next(a for a in info["access"] if a["decky"] == "ws01")
    assert ws["services"][0]["probe"].startswith(
        f"docker exec dn-{deployed['summary']['id'][:8]}-gw01 nc -w 3 10.231.1.")
    assert topology_info(conn, "ghost")["exists"] is False
