"""Schema versions with Alembic: create at head, recognise a pre-Alembic database, upgrade.

The migrations ship in `decnet_lib/db/migrations/` (inside the package). `REVISIONS` lists
them oldest first; a unit test keeps it equal to Alembic's own history, so the common path
(`ensure_schema` on a database already at head) costs one query and never imports Alembic.

Every schema change runs under a lock: MariaDB's `GET_LOCK`, SQLite's write lock (one
`BEGIN IMMEDIATE` transaction, DDL included), so two processes starting at once on an empty
database do not both create it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text

from decnet_lib.db.models import Base
from decnet_lib.errors import DatabaseUnavailable, SchemaOutdated

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().with_name("migrations")
REVISIONS = ("0001_baseline", "0002_events", "0003_api_tokens")
BASELINE = REVISIONS[0]
HEAD = REVISIONS[-1]
VERSION_TABLE = "alembic_version"
LEGACY_MARKER = "topologies"  # a pre-Alembic database has this table and no version table
LOCK_NAME = "decnet_schema"
LOCK_TIMEOUT_S = 120


@dataclass(frozen=True)
class SchemaState:
    """Where a database stands: its revision (None: unversioned) and whether it is empty."""

    revision: str | None
    legacy: bool

    @property
    def empty(self) -> bool:
        return self.revision is None and not self.legacy

    @property
    def at_head(self) -> bool:
        return self.revision == HEAD


def read_state(connection: Connection) -> SchemaState:
    """The revision stamped in the database, and whether it predates Alembic."""
    inspector = inspect(connection)
    if inspector.has_table(VERSION_TABLE):
        rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars()
        revisions = list(rows)
        if len(revisions) > 1:
            raise DatabaseUnavailable(f"the database has several schema heads: {revisions}")
        if revisions:
            return SchemaState(revisions[0], legacy=False)
    return SchemaState(None, legacy=inspector.has_table(LEGACY_MARKER))


def schema_state(engine: Engine) -> SchemaState:
    """`read_state` on a fresh connection."""
    with engine.connect() as connection:
        return read_state(connection)


def alembic_config(connection: Connection) -> Config:
    """An Alembic config on the packaged migrations, running on `connection`."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


@contextmanager
def _schema_lock(engine: Engine) -> Iterator[Connection]:
    """A connection holding the schema lock, committed on success."""
    if engine.dialect.name == "sqlite":
        from decnet_lib.db.engine import make_engine

        memory = engine.url.database in (None, "", ":memory:")
        locked = engine if memory else make_engine(engine.url, sqlite_immediate=True)
        try:
            with locked.begin() as connection:
                yield connection
        finally:
            if locked is not engine:
                locked.dispose()
        return
    with engine.connect() as connection:
        got = connection.execute(text("SELECT GET_LOCK(:name, :wait)"),
                                 {"name": LOCK_NAME, "wait": LOCK_TIMEOUT_S}).scalar()
        if got != 1:
            raise DatabaseUnavailable("timed out waiting for the schema lock (another "
                                      "process is changing the schema)")
        try:
            yield connection
            connection.commit()
        finally:
            connection.rollback()
            connection.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": LOCK_NAME})


def _refuse(state: SchemaState) -> SchemaOutdated:
    if state.revision is not None and state.revision not in REVISIONS:
        return SchemaOutdated(
            f"the database schema is at revision {state.revision}, which this release does "
            f"not know (newest known: {HEAD}): upgrade MazeNET",
            revision=state.revision, head=HEAD)
    found = state.revision or "a schema from before migrations"
    return SchemaOutdated(
        f"the database has {found}; this release needs {HEAD}: run `decnet db upgrade`",
        revision=state.revision, head=HEAD)


def _create_at_head(connection: Connection) -> None:
    from alembic import command

    Base.metadata.create_all(connection)
    command.stamp(alembic_config(connection), HEAD)


def ensure_schema(engine: Engine) -> None:
    """The schema at head: created (and stamped) on an empty database, else checked.

    Raises SchemaOutdated when the database is at another revision (or predates Alembic):
    upgrading is an explicit step (`decnet db upgrade`), never a side effect of a command.
    """
    if schema_state(engine).at_head:
        return
    with _schema_lock(engine) as connection:
        # read again under the lock: another process may be creating it right now (MariaDB
        # commits each CREATE TABLE at once, so its tables can show before its stamp)
        state = read_state(connection)
        if state.empty:
            _create_at_head(connection)
        elif not state.at_head:
            raise _refuse(state)


@dataclass(frozen=True)
class Upgrade:
    """What `upgrade_schema` did: the revision before (None: empty or legacy) and after."""

    before: str | None
    after: str
    created: bool
    legacy: bool


def upgrade_schema(engine: Engine) -> Upgrade:
    """Bring any database made by MazeNET to head, every row kept.

    Empty: created from the metadata and stamped. Made before Alembic (tables, no version):
    stamped as the baseline, then migrated. Versioned: migrated from its revision.
    """
    from alembic import command

    with _schema_lock(engine) as connection:
        state = read_state(connection)
        if state.revision is not None and state.revision not in REVISIONS:
            raise _refuse(state)
        if state.empty:
            _create_at_head(connection)
            return Upgrade(None, HEAD, created=True, legacy=False)
        config = alembic_config(connection)
        if state.legacy:
            command.stamp(config, BASELINE)
        command.upgrade(config, "head")
        return Upgrade(state.revision, HEAD, created=False, legacy=state.legacy)
