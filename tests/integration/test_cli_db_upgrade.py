"""`decnet db init | upgrade | reset` on SQLite and MariaDB, and a pre-Alembic database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import sample_resolved
from sqlalchemy import func, select

from decnet_lib.cli import main
from decnet_lib.db import (
    HEAD,
    Base,
    Mutation,
    create_topology,
    make_engine,
    schema_state,
    session_scope,
)

BASELINE_TABLES = ("topologies", "lans", "deckies", "edges", "topology_events", "mutations")


@pytest.fixture
def decnet(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
           capsys: pytest.CaptureFixture[str]):
    """Run `decnet ARGS` in-process against `db_url`; returns (code, out, err)."""
    monkeypatch.setenv("DECNET_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("DECNET_DB_URL", db_url)
    monkeypatch.delenv("DECNET_MODE", raising=False)

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def _names(decnet) -> list[str]:
    code, out, err = decnet("topology", "list", "--json")
    assert code == 0, err
    return sorted(item["name"] for item in json.loads(out))


def test_db_init_on_an_empty_database_reaches_head(decnet, db_url: str) -> None:
    code, _, err = decnet("db", "init")
    assert code == 0 and HEAD in err
    engine = make_engine(db_url)
    try:
        assert schema_state(engine).at_head
    finally:
        engine.dispose()
    code, _, err = decnet("db", "upgrade")
    assert code == 0 and "already" in err


def test_a_pre_alembic_database_is_refused_then_upgraded_then_reset(decnet, db_url: str) -> None:
    engine = make_engine(db_url)
    try:  # the database as the releases before Alembic made and filled it
        Base.metadata.create_all(engine,
                                 tables=[Base.metadata.tables[n] for n in BASELINE_TABLES])
        with session_scope(engine) as session:
            first = create_topology(session, sample_resolved())
            create_topology(session, sample_resolved("other", "172.21"))
            session.add(Mutation(topology_id=first.id, op="add_lan", payload={"name": "x"}))

        code, out, err = decnet("topology", "list", "--json")
        assert (code, out) == (1, "")
        assert "error[SCHEMA_OUTDATED]" in err and "decnet db upgrade" in err
        assert "Traceback" not in err

        code, _, err = decnet("db", "upgrade")
        assert code == 0, err
        assert "upgraded from the schema from before migrations to" in err
        assert schema_state(engine).at_head
        assert _names(decnet) == ["acme", "other"]
        with engine.connect() as connection:
            assert connection.execute(select(func.count()).select_from(Mutation)).scalar() == 1

        code, _, err = decnet("db", "reset", "--yes")
        assert code == 0, err
        assert _names(decnet) == []
        assert schema_state(engine).at_head
    finally:
        engine.dispose()
