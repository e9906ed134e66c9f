"""The master database as the front ends open it: engines, sessions, init and reset.

Every function takes the settings explicitly; nothing here reads the environment.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, inspect
from sqlalchemy.orm import Session

from decnet_lib.db import (
    Upgrade,
    init_db,
    make_engine,
    new_session,
    read_only,
    reset_db,
    session_scope,
    upgrade_schema,
)

if TYPE_CHECKING:
    from decnet_lib.settings import Settings

SQLITE_PREFIXES = ("sqlite:///", "sqlite+pysqlite:///")


def open_engine(settings: Settings, create: bool = True, **kwargs: Any) -> Engine:
    """An engine on the configured database (make_engine options in kwargs); the tables
    are created when `create`."""
    engine = make_engine(settings.db_url, **kwargs)
    if create:
        init_db(engine)
    return engine


@contextmanager
def engine_scope(settings: Settings, create: bool = True, **kwargs: Any) -> Iterator[Engine]:
    """`open_engine`, disposed on exit."""
    engine = open_engine(settings, create, **kwargs)
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def transaction(settings: Settings, create: bool = True) -> Iterator[Session]:
    """One transaction on the configured database (committed on success)."""
    with engine_scope(settings, create) as engine, session_scope(engine) as session:
        yield session


@contextmanager
def write_session(engine: Engine) -> Iterator[Session]:
    """One transaction on `engine`: committed on success, rolled back on error."""
    with session_scope(engine) as session:
        yield session


@contextmanager
def read_session(engine: Engine | None) -> Iterator[Session | None]:
    """A session that only reads (rolled back afterwards); None for no database. On SQLite
    it never takes the write lock (WAL readers do not wait for writers)."""
    if engine is None:
        yield None
        return
    session = new_session(read_only(engine))
    try:
        yield session
    finally:
        session.rollback()
        session.close()


def sqlite_file_missing(url: str) -> bool:
    """True for a SQLite file URL whose file does not exist."""
    for prefix in SQLITE_PREFIXES:
        if url.startswith(prefix):
            path = url.removeprefix(prefix).split("?", 1)[0]
            return path not in ("", ":memory:") and not Path(path).expanduser().exists()
    return False


@contextmanager
def existing_engine(settings: Settings, check_mode: bool = False,
                    immediate: bool | None = None) -> Iterator[Engine | None]:
    """An engine on the database, schema created; disposed afterwards.

    In check mode nothing is created: a SQLite file or a schema that does not exist yet
    gives None (an empty database, as far as the caller is concerned). `immediate`
    (default: unless in check mode) makes every SQLite transaction take the write lock at
    BEGIN, so a read-then-write waits for a concurrent writer instead of failing "locked".
    """
    url = settings.db_url
    if check_mode and sqlite_file_missing(url):
        yield None
        return
    if immediate is None:
        immediate = not check_mode
    engine = make_engine(url, sqlite_immediate=immediate)
    try:
        if check_mode:
            yield engine if inspect(engine).has_table("topologies") else None
        else:
            init_db(engine)
            yield engine
    finally:
        engine.dispose()


def upgrade_database(settings: Settings) -> Upgrade:
    """Bring the database to the newest schema revision, every row kept (idempotent).

    An empty database is created at head; one made before Alembic is recognised (stamped
    as the baseline) and migrated; a versioned one is migrated from its revision.
    """
    with engine_scope(settings, create=False) as engine:
        return upgrade_schema(engine)


def init_database(settings: Settings) -> Upgrade:
    """`db init`: create the schema, or bring an existing one to head (`upgrade_database`)."""
    return upgrade_database(settings)


def reset_database(settings: Settings) -> None:
    """Drop and recreate every table, in foreign-key order taken from the schema."""
    with engine_scope(settings, create=False) as engine:
        reset_db(engine)
