"""Engines and transactions: SQLite (embedded default) and MySQL/MariaDB through PyMySQL.

A database that cannot be reached, or a bad URL, raises `DatabaseUnavailable` with one line.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import Connection, Engine, create_engine, event, exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.engine.interfaces import ExceptionContext
from sqlalchemy.orm import Session

from decnet_lib.errors import DatabaseUnavailable
from decnet_lib.settings import get_settings

if TYPE_CHECKING:
    from decnet_lib.settings import Settings

SQLITE_BUSY_TIMEOUT_MS = 30_000


def _set_wal(cursor: Any) -> None:
    """`PRAGMA journal_mode=WAL`, retried while another connection holds the lock: turning a
    new database file to WAL needs it exclusively and SQLite does not wait for it there (the
    busy timeout does not apply), so processes opening a fresh file at once would fail."""
    import sqlite3
    import time

    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) and "busy" not in str(error):
                raise
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
MYSQL_BACKENDS = ("mysql", "mariadb")


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def parse_url(url: str | URL) -> URL:
    """Parse a database URL, or raise DatabaseUnavailable (the URL itself is not echoed)."""
    try:
        return make_url(url)
    except (exc.ArgumentError, ValueError):
        raise DatabaseUnavailable(
            "invalid database URL (expected e.g. sqlite:////var/lib/decnet/decnet.db "
            "or mysql+pymysql://user:password@host/decnet)"
        ) from None


def _sqlite_path(url: URL) -> Path | None:
    """The file behind a SQLite URL; None for in-memory and `file:` URI databases."""
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


def _create_private(path: Path) -> None:
    """The database's directory (0700 when made here) and file (0600 when made here, which
    SQLite's -wal and -shm files then copy), whatever the umask."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(path.parent, 0o700)
    if not path.exists():
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        os.chmod(path, 0o600)


def _make_sqlite(url: URL, immediate: bool, **kwargs: Any) -> Engine:
    path = _sqlite_path(url)
    if path is not None:
        try:
            _create_private(path.expanduser())
        except OSError as error:
            raise DatabaseUnavailable(
                f"cannot create the directory of the SQLite database {path}: "
                f"{error.strerror or error}"
            ) from None
    connect_args = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
    engine = create_engine(url, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide where transactions begin (SAVEPOINT works).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
            if path is not None:
                _set_wal(cursor)
                # WAL + NORMAL: never corrupts; a power cut may lose the last commits only
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        finally:
            cursor.close()

    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if not is_autocommit(connection):
            connection.exec_driver_sql("BEGIN" if is_read_only(connection) else begin)

    return engine


def _make_mysql(url: URL, **kwargs: Any) -> Engine:
    if "charset" not in url.query:
        url = url.update_query_dict({"charset": "utf8mb4"})
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_recycle=3600,
        isolation_level="READ COMMITTED",
        **kwargs,
    )


def _describe(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def _install_error_translation(engine: Engine, url: URL) -> None:
    """Turn a failure to connect into DatabaseUnavailable, one line, no driver traceback."""
    where = _describe(url)

    @event.listens_for(engine, "handle_error")
    def _on_error(context: ExceptionContext) -> BaseException | None:
        if context.is_pre_ping or context.connection is not None:
            return None  # a statement failed: not ours to translate
        original = context.original_exception
        if not isinstance(original, Exception):
            return None
        detail = " ".join(str(original).split()) or type(original).__name__
        return DatabaseUnavailable(f"cannot connect to the database {where}: {detail}")


def make_engine(url: str | URL, *, sqlite_immediate: bool = False, **kwargs: Any) -> Engine:
    """An engine for `url`, configured for SQLite or MySQL/MariaDB (PyMySQL).

    SQLite: the file's directory is created; every connection gets foreign keys on, WAL
    and a 30 s busy timeout, and SQLAlchemy emits BEGIN itself (so SAVEPOINTs work).
    `sqlite_immediate` makes that `BEGIN IMMEDIATE`: each transaction takes the write lock
    up front, so one that reads then writes waits for other writers instead of failing
    with "database is locked" (at the price of serialising every transaction), except the
    transactions of a `read_only(engine)`: plain BEGIN, WAL readers never wait.
    MySQL/MariaDB: pre-ping, utf8mb4, READ COMMITTED.
    Raises DatabaseUnavailable for a bad or unsupported URL.
    """
    parsed = parse_url(url)
    backend = parsed.get_backend_name()
    kwargs.setdefault("json_serializer", _json_dumps)
    kwargs.setdefault("json_deserializer", orjson.loads)
    try:
        if backend == "sqlite":
            engine = _make_sqlite(parsed, sqlite_immediate, **kwargs)
        elif backend in MYSQL_BACKENDS:
            engine = _make_mysql(parsed, **kwargs)
        else:
            engine = create_engine(parsed, **kwargs)
    except (exc.NoSuchModuleError, exc.ArgumentError, ImportError) as error:
        raise DatabaseUnavailable(
            f"unsupported database URL {_describe(parsed)}: {error}"
        ) from None
    _install_error_translation(engine, parsed)
    return engine


def engine_from_settings(settings: Settings | None = None, **kwargs: Any) -> Engine:
    """The engine for DECNET_DB_URL (default: SQLite in DECNET_STATE_DIR)."""
    return make_engine((settings or get_settings()).db_url, **kwargs)


def new_session(engine: Engine) -> Session:
    """A session on `engine` whose objects stay readable after commit."""
    return Session(engine, expire_on_commit=False)


AUTOCOMMIT_OPTION = "decnet_autocommit"
READ_ONLY_OPTION = "decnet_read_only"


def read_only(engine: Engine) -> Engine:
    """`engine` for transactions that only read: on SQLite they BEGIN without taking the
    write lock even when the engine is `sqlite_immediate` (same pool and listeners)."""
    return engine.execution_options(**{READ_ONLY_OPTION: True})


def is_read_only(connection: Connection) -> bool:
    """Was `connection` opened through `read_only(engine)`?"""
    return bool(connection.get_execution_options().get(READ_ONLY_OPTION))


def is_autocommit(connection: Connection) -> bool:
    """Was `connection` opened by `autocommit_connection`?"""
    return bool(connection.get_execution_options().get(AUTOCOMMIT_OPTION))


@contextmanager
def autocommit_connection(engine: Engine) -> Iterator[Connection]:
    """A connection on which every statement commits by itself, in one round trip.

    For single-statement writes that need no transaction around them, such as queue
    claims. SQLite: the begin hook emits no BEGIN, so the driver's autocommit applies;
    MySQL/MariaDB: the driver's autocommit mode.
    """
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            connection.execution_options(**{AUTOCOMMIT_OPTION: True})
        else:
            connection.execution_options(isolation_level="AUTOCOMMIT",
                                         **{AUTOCOMMIT_OPTION: True})
        yield connection


@contextmanager
def pinned_session(engine: Engine) -> Iterator[Session]:
    """A session that keeps one pooled connection for its whole life.

    A plain session hands its connection back to the pool at every commit, and the next
    transaction pays a checkout (a MariaDB pre-ping) and the pool's reset (a ROLLBACK):
    two extra round trips per transaction. Loops that commit many small transactions
    (claims) use this instead; it still begins and commits each transaction itself.
    """
    with engine.connect() as connection:
        session = Session(bind=connection, expire_on_commit=False)
        try:
            yield session
        finally:
            session.close()


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: commit when the block succeeds, roll back when it raises."""
    session = new_session(engine)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
