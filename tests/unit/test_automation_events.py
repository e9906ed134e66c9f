"""The backend of decnet.mazenet.decnet_events_info: filters, limit, errors, read only."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from helpers import sample_resolved, store_live
from sqlalchemy import Engine

from decnet_lib.automation import AutomationError, run_events_info
from decnet_lib.db import AttackEvent, session_scope

X = "203.0.113.7"


def _fill(engine: Engine, count: int) -> None:
    acme = sample_resolved()
    with session_scope(engine) as session:
        store_live(session, acme)
        for seq in range(1, count + 1):
            session.add(AttackEvent(
                ts=datetime.now(UTC), topology_id=acme.id, topology="acme", decky="gw01",
                lan="dmz", service="ssh", event="login", src_ip=X, source="a", epoch="e",
                seq=seq, fields={"user": "root", "password": f"pw{seq}", "success": "false"}))


def test_events_and_attackers_under_one_filter(engine: Engine, db_url: str,
                                               tmp_path: Path) -> None:
    _fill(engine, 3)
    params = {"db_url": db_url, "state_dir": str(tmp_path), "topology": "acme",
              "since": "1h", "limit": 2}
    result = run_events_info(params, check_mode=True)
    assert result["changed"] is False
    assert [e["fields"]["password"] for e in result["events"]] == ["pw1", "pw2"]
    assert result["events_truncated"] is True
    (attacker,) = result["attackers"]
    assert attacker["src_ip"] == X and attacker["events"] == 3
    assert [c["password"] for c in attacker["credentials"]] == ["pw1", "pw2", "pw3"]
    other = run_events_info({**params, "attacker": "198.51.100.1", "limit": None})
    assert other["events"] == [] and other["attackers"] == []
    assert other["events_truncated"] is False


def test_bad_input_fails_with_a_code(engine: Engine, db_url: str, tmp_path: Path) -> None:
    params = {"db_url": db_url, "state_dir": str(tmp_path)}
    with pytest.raises(AutomationError) as bad_since:
        run_events_info({**params, "since": "yesterday"})
    assert bad_since.value.code == "BAD_SINCE"
    with pytest.raises(AutomationError) as bad_limit:
        run_events_info({**params, "limit": 0})
    assert bad_limit.value.code == "USAGE"


def test_a_missing_database_holds_no_events_and_stays_missing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'absent.db'}"
    result = run_events_info({"db_url": url, "state_dir": str(tmp_path)}, check_mode=True)
    assert result == {"changed": False, "events": [], "events_truncated": False,
                      "attackers": []}
    assert not (tmp_path / "absent.db").exists()
