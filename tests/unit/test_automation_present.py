"""decnet_lib.automation: state=present (validate, store, compare canonical hashes)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from automation_fakes import FakeWorld, connection, document

from decnet_lib.automation import AutomationError, topology_deployed, topology_present
from decnet_lib.db import get_topology, make_engine, new_session


@pytest.fixture
def world() -> FakeWorld:
    return FakeWorld()


def _stored(db_url: str, name: str) -> tuple[str, str, str] | None:
    engine = make_engine(db_url)
    try:
        with new_session(engine) as session:
            row = get_topology(session, name)
            return (row.id, row.hash, row.status) if row else None
    finally:
        engine.dispose()


def test_creates_then_reports_unchanged(db_url: str, world: FakeWorld) -> None:
    conn = connection(db_url, world)
    first = topology_present(conn, spec=document())
    assert first["changed"] and first["action"] == "create"
    assert first["status"] == "pending"
    assert first["diff"]["before"] == {}
    assert first["diff"]["after"]["name"] == "lab"
    stored = _stored(db_url, "lab")
    assert stored is not None and stored[1] == first["summary"]["hash"]

    again = topology_present(conn, spec=document())
    assert not again["changed"] and again["action"] == "none"
    assert again["diff"]["before"] == again["diff"]["after"]
    assert _stored(db_url, "lab") == stored


def test_unpinned_addresses_compare_against_the_stored_ones(
    tmp_path: Path, world: FakeWorld
) -> None:
    """A document with null IPs is unchanged even when allocation would differ now."""
    conn = connection(f"sqlite:///{tmp_path / 'd.db'}", world)
    doc = document()
    doc["deckies"][1]["lans"] = {"office": "10.231.1.50"}
    topology_present(conn, spec=doc)
    # pin gw01's office address elsewhere: the stored gw01 keeps its own, nothing changes
    reordered = document()
    reordered["deckies"] = list(reversed(reordered["deckies"]))
    reordered["deckies"][0]["lans"] = {"office": "10.231.1.50"}
    assert not topology_present(conn, spec=reordered)["changed"]


def test_a_different_definition_fails_with_advice(db_url: str, world: FakeWorld) -> None:
    conn = connection(db_url, world)
    topology_present(conn, spec=document())
    with pytest.raises(AutomationError) as caught:
        topology_present(conn, spec=document(deckies=3))
    error = caught.value
    assert error.code == "DEFINITION_CHANGED"
    assert "decnet_mutation" in error.message and "replace=true" in error.message
    assert "state=absent" in error.message
    assert error.details["diff"]["after"]["deckies"][-1]["name"] == "ws02"


def test_replace_keeps_the_id_of_an_undeployed_topology(db_url: str, world: FakeWorld) -> None:
    conn = connection(db_url, world)
    topology_present(conn, spec=document())
    before = _stored(db_url, "lab")
    result = topology_present(conn, spec=document(deckies=3), replace=True)
    assert result["changed"] and result["action"] == "replace"
    after = _stored(db_url, "lab")
    assert before and after and after[0] == before[0] and after[1] != before[1]
    assert not topology_present(conn, spec=document(deckies=3))["changed"]


def test_replace_is_refused_while_deployed(tmp_path: Path, world: FakeWorld) -> None:
    conn = connection(f"sqlite:///{tmp_path / 'd.db'}", world)
    topology_deployed(conn, spec=document())
    for check_mode in (True, False):
        with pytest.raises(AutomationError) as caught:
            topology_present(conn, spec=document(deckies=3), replace=True,
                             check_mode=check_mode)
        assert caught.value.code == "REFUSED"
        assert "state=deployed with replace=true" in caught.value.message


def test_invalid_document_fails_with_every_issue(db_url: str, world: FakeWorld) -> None:
    doc = document()
    doc["lans"][1]["subnet"] = "10.231.0.0/24"  # overlaps the DMZ
    doc["deckies"][0]["services"] = ["nope"]
    with pytest.raises(AutomationError) as caught:
        topology_present(connection(db_url, world), spec=doc)
    codes = {issue["code"] for issue in caught.value.details["issues"]}
    assert caught.value.code == "INVALID_TOPOLOGY"
    assert {"SUBNET_OVERLAP", "UNKNOWN_SERVICE"} <= codes
    assert _stored(db_url, "lab") is None


def test_overlap_with_another_stored_topology(tmp_path: Path, world: FakeWorld) -> None:
    conn = connection(f"sqlite:///{tmp_path / 'd.db'}", world)
    topology_present(conn, spec=document("one"))
    with pytest.raises(AutomationError) as caught:
        topology_present(conn, spec=document("two"))
    assert "SUBNET_OVERLAP" in {i["code"] for i in caught.value.details["issues"]}


def test_src_file_and_unreadable_file(tmp_path: Path, world: FakeWorld) -> None:
    conn = connection(f"sqlite:///{tmp_path / 'd.db'}", world)
    src = tmp_path / "lab.yml"
    src.write_text(yaml.safe_dump(document()))
    assert topology_present(conn, src=str(src))["changed"]
    assert not topology_present(conn, spec=document())["changed"]
    with pytest.raises(AutomationError) as caught:
        topology_present(conn, src=str(tmp_path / "missing.yml"))
    assert caught.value.code == "UNREADABLE"
    bad = tmp_path / "bad.yml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(AutomationError) as caught:
        topology_present(conn, src=str(bad))
    assert caught.value.code == "UNREADABLE"


def test_check_mode_creates_no_database(tmp_path: Path, world: FakeWorld) -> None:
    path = tmp_path / "state" / "decnet.db"
    conn = connection(f"sqlite:///{path}", world)
    result = topology_present(conn, spec=document(), check_mode=True)
    assert result["changed"] and result["action"] == "create"
    assert result["diff"]["after"]["name"] == "lab"
    assert not path.parent.exists()


def test_check_mode_against_a_stored_topology(db_url: str, world: FakeWorld) -> None:
    conn = connection(db_url, world)
    topology_present(conn, spec=document())
    before = _stored(db_url, "lab")
    assert not topology_present(conn, spec=document(), check_mode=True)["changed"]
    result = topology_present(conn, spec=document(deckies=3), replace=True, check_mode=True)
    assert result["changed"] and result["action"] == "replace"
    assert len(result["diff"]["after"]["deckies"]) == 3
    assert _stored(db_url, "lab") == before


def test_spec_and_src_together_are_refused(tmp_path: Path, world: FakeWorld) -> None:
    conn = connection(f"sqlite:///{tmp_path / 'd.db'}", world)
    with pytest.raises(AutomationError, match="either spec or src"):
        topology_present(conn, spec=document(), src="x.yml")
