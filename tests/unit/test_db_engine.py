"""Engines and transactions: per-engine settings, session_scope, one-line connection errors."""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from helpers import sample_resolved
from sqlalchemy import Engine, select, text
from sqlalchemy.engine import make_url

from decnet_lib.db import (
    Mutation,
    Topology,
    autocommit_connection,
    create_topology,
    engine_from_settings,
    get_topology,
    init_db,
    make_engine,
    new_session,
    pinned_session,
    require_topology,
    session_scope,
)
from decnet_lib.db.engine import is_autocommit
from decnet_lib.errors import DatabaseUnavailable


def test_connection_settings(engine: Engine) -> None:
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        else:
            charset = connection.execute(text("SELECT @@character_set_connection")).scalar()
            assert charset == "utf8mb4"


@contextmanager
def acme_engine(db_url: str, immediate: bool) -> Iterator[Engine]:
    """An engine (SQLite transactions immediate or not) on a database that holds acme."""
    engine = make_engine(db_url, sqlite_immediate=immediate)
    try:
        init_db(engine)
        with session_scope(engine) as session:
            create_topology(session, sample_resolved())
        yield engine
    finally:
        engine.dispose()


def test_immediate_transactions_still_round_trip(db_url: str) -> None:
    """`sqlite_immediate` (ignored by MariaDB) takes SQLite's write lock at BEGIN."""
    with acme_engine(db_url, immediate=True) as engine, session_scope(engine) as session:
        assert require_topology(session, "acme").status == "pending"
        if engine.dialect.name == "sqlite":  # a read holds the write lock already
            other = sqlite3.connect(make_url(db_url).database, timeout=0)
            try:
                with pytest.raises(sqlite3.OperationalError, match="locked"):
                    other.execute("BEGIN IMMEDIATE")
            finally:
                other.close()


@pytest.mark.parametrize("immediate", [False, True])
def test_autocommit_connection_commits_each_statement(db_url: str, immediate: bool) -> None:
    """A write is visible to others at once, and no transaction (no lock) is left open."""
    with acme_engine(db_url, immediate) as engine:
        with autocommit_connection(engine) as connection:
            assert is_autocommit(connection)
            connection.execute(text("UPDATE topologies SET status = 'failed'"))
            with session_scope(engine) as other:  # would wait on an open write lock
                assert require_topology(other, "acme").status == "failed"
                other.execute(text("UPDATE topologies SET status = 'pending'"))
            row = connection.execute(select(Topology.status)).scalar_one()
            assert row == "pending"
        with engine.connect() as plain:
            assert not is_autocommit(plain)


def test_pinned_session_keeps_one_connection_across_commits(engine: Engine) -> None:
    who = "SELECT 1" if engine.dialect.name == "sqlite" else "SELECT CONNECTION_ID()"
    with pinned_session(engine) as session:
        first = session.connection().connection.dbapi_connection
        first_id = session.execute(text(who)).scalar()
        create_topology(session, sample_resolved())
        session.commit()
        assert session.connection().connection.dbapi_connection is first
        assert session.execute(text(who)).scalar() == first_id
        session.rollback()
    with new_session(engine) as other:
        assert require_topology(other, "acme").status == "pending"


def test_session_scope_commits_or_rolls_back(engine: Engine) -> None:
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        create_topology(session, sample_resolved())
        raise RuntimeError("abort")
    with session_scope(engine) as session:
        assert get_topology(session, "acme") is None
        row = create_topology(session, sample_resolved())
    assert row.name == "acme"  # still readable after the session closed
    with session_scope(engine) as session:
        assert require_topology(session, "acme").id == row.id


def test_timestamps_are_utc_aware_with_microseconds(engine: Engine) -> None:
    moment = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    local = moment.astimezone(timezone(timedelta(hours=2)))  # stored as the same instant
    with session_scope(engine) as session:
        row = create_topology(session, sample_resolved())
        session.add(Mutation(topology_id=row.id, op="add_lan", payload={}, lease_until=local))
    with session_scope(engine) as session:
        mutation = session.scalars(select(Mutation)).one()
        assert mutation.lease_until == moment
        assert mutation.lease_until.tzinfo is not None
        assert mutation.created_at.tzinfo is not None
        just_after = moment + timedelta(microseconds=1)
        assert session.scalar(select(Mutation.id).where(Mutation.lease_until < just_after))
        assert session.scalar(select(Mutation.id).where(Mutation.lease_until < moment)) is None


def test_sqlite_creates_the_parent_directory(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "state" / "decnet.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        init_db(engine)
    finally:
        engine.dispose()
    assert path.is_file()


def test_engine_from_settings_uses_the_state_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DECNET_DB_URL", raising=False)
    monkeypatch.setenv("DECNET_STATE_DIR", str(tmp_path / "state"))
    engine = engine_from_settings()
    try:
        init_db(engine)
    finally:
        engine.dispose()
    assert (tmp_path / "state" / "decnet.db").is_file()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens once it is closed


@pytest.mark.parametrize("kind", ["sqlite", "mariadb"])
def test_an_unreachable_database_is_one_clear_line(kind: str, tmp_path: Path) -> None:
    if kind == "sqlite":
        blocker = tmp_path / "not-a-dir"
        blocker.write_text("a file where the directory should be")
        url = f"sqlite:///{blocker}/sub/decnet.db"
    else:
        url = f"mysql+pymysql://decnet:s3cret@127.0.0.1:{_closed_port()}/decnet"
    with pytest.raises(DatabaseUnavailable) as raised:
        engine = make_engine(url)
        try:
            init_db(engine)
        finally:
            engine.dispose()
    message = str(raised.value)
    assert "\n" not in message and "Traceback" not in message
    assert "s3cret" not in message
    assert raised.value.code == "DB_UNAVAILABLE"


def test_an_unopenable_sqlite_file_is_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / "dir.db").mkdir()
    engine = make_engine(f"sqlite:///{tmp_path / 'dir.db'}")
    with pytest.raises(DatabaseUnavailable, match="cannot connect") as raised:
        init_db(engine)
    engine.dispose()
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("url", ["not a url", "nosuchdb://x/y", "mysql+nosuchdriver://h/d"])
def test_a_bad_url_is_one_clear_line(url: str) -> None:
    with pytest.raises(DatabaseUnavailable) as raised:
        make_engine(url)
    assert "\n" not in str(raised.value)
