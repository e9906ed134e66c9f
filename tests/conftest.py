"""Shared fixtures: a fresh database per test on SQLite and on MariaDB, engines and sessions.

MariaDB needs DECNET_TEST_MARIADB_URL, a server-level URL such as
`mysql+pymysql://root@localhost/?unix_socket=/run/mysqld/mysqld.sock`; every test gets its own
`decnet_test_<hex>` database, dropped afterwards. Without the variable the MariaDB cases are
skipped, except under CI=true where that is a failure.
"""

from __future__ import annotations

import contextlib
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from decnet_lib.db import init_db, make_engine

# test fakes and helpers (helpers, docker_support, automation_fakes) live in tests/support
sys.path.insert(0, str(Path(__file__).resolve().parent / "support"))

MARIADB_ENV = "DECNET_TEST_MARIADB_URL"
ENGINES = ["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)]


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def mariadb_server_url() -> str:
    """The MariaDB server URL for tests; skips (fails under CI=true) when it is not set."""
    url = os.environ.get(MARIADB_ENV, "").strip()
    if not url:
        message = f"{MARIADB_ENV} is not set: the MariaDB case needs a server"
        if _in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return url


def _drop_database(server: Engine, name: str) -> None:
    """Drop a test database, first killing any connection a test left inside it."""
    with server.connect() as connection:
        connection.execute(text("SET SESSION lock_wait_timeout = 30"))
        leftovers = connection.execute(
            text("SELECT id FROM information_schema.processlist WHERE db = :db AND id <> "
                 "CONNECTION_ID()"),
            {"db": name},
        ).scalars().all()
        for thread_id in leftovers:
            with contextlib.suppress(Exception):  # it may have gone away meanwhile
                connection.execute(text(f"KILL CONNECTION {int(thread_id)}"))
        connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))


def _mariadb_database() -> Iterator[str]:
    """Create a uniquely named database on the test server; drop it afterwards, always."""
    server_url = make_url(mariadb_server_url())
    name = f"decnet_test_{uuid.uuid4().hex[:16]}"
    server = create_engine(server_url, poolclass=NullPool)
    try:
        with server.begin() as connection:
            connection.execute(text(
                f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
            ))
        try:
            yield server_url.set(database=name).render_as_string(hide_password=False)
        finally:
            _drop_database(server, name)
    finally:
        server.dispose()


@pytest.fixture(params=ENGINES)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty database: a SQLite file under tmp_path, or a fresh MariaDB database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'db' / 'decnet.db'}"
    else:
        yield from _mariadb_database()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on `db_url` with the schema created; disposed after the test."""
    engine = make_engine(db_url)
    try:
        init_db(engine)
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Make sessions on the test engine (objects stay readable after commit)."""
    return sessionmaker(engine, expire_on_commit=False)


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """One session on the test engine, rolled back and closed after the test."""
    with session_factory() as session:
        yield session
        session.rollback()
