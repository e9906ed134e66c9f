"""Alembic migrations: head equals the metadata; a pre-Alembic database upgrades, rows kept."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from helpers import sample_resolved
from sqlalchemy import Engine, MetaData, inspect, select, text

from decnet_lib.db import (
    HEAD,
    Base,
    Mutation,
    create_topology,
    init_db,
    make_engine,
    reset_db,
    schema_state,
    session_scope,
    transition,
    upgrade_schema,
)
from decnet_lib.db.migrate import BASELINE, REVISIONS, alembic_config
from decnet_lib.errors import SchemaOutdated

# The tables of the schema before Alembic (revision 0001_baseline), as create_all made them.
# Their models have not changed since; a migration that alters one of them must make this
# test build the old layout itself (e.g. by upgrading to the baseline) instead.
BASELINE_TABLES = ("topologies", "lans", "deckies", "edges", "topology_events", "mutations")


@pytest.fixture
def bare(db_url: str) -> Any:
    """An engine on an empty database (no schema)."""
    engine = make_engine(db_url)
    try:
        yield engine
    finally:
        engine.dispose()


def _diffs(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)


def _layout(engine: Engine) -> dict[str, Any]:
    """Every table's columns (name, type, nullability), indexes, unique and foreign keys."""
    inspector = inspect(engine)
    layout: dict[str, Any] = {}
    for table in sorted(inspector.get_table_names()):
        if table == "alembic_version":
            continue
        layout[table] = {
            "columns": [(c["name"], str(c["type"]), c["nullable"])
                        for c in inspector.get_columns(table)],
            "pk": inspector.get_pk_constraint(table)["constrained_columns"],
            "indexes": sorted((tuple(i["column_names"]), bool(i["unique"]))
                              for i in inspector.get_indexes(table)),
            "unique": sorted(tuple(u["column_names"])
                             for u in inspector.get_unique_constraints(table)),
            "fks": sorted((tuple(f["constrained_columns"]), f["referred_table"],
                           (f.get("options") or {}).get("ondelete"))
                          for f in inspector.get_foreign_keys(table)),
        }
    return layout


def _dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every baseline table, in primary-key order."""
    tables = MetaData()
    tables.reflect(bind=engine, only=list(BASELINE_TABLES))
    with engine.connect() as connection:
        return {
            name: [tuple(row) for row in connection.execute(
                select(table).order_by(*table.primary_key.columns))]
            for name, table in tables.tables.items()
        }


def _fill(engine: Engine) -> None:
    with session_scope(engine) as session:
        first = create_topology(session, sample_resolved())
        transition(session, first, "deploying", "go")
        transition(session, first, "active", "up")
        session.add(Mutation(topology_id=first.id, op="add_lan", payload={"name": "x"}))
        session.add(Mutation(topology_id=first.id, op="remove_decky", state="failed",
                             payload={"name": "d1"}, error={"code": "X", "message": "no"}))
        create_topology(session, sample_resolved("other", "172.21"))


def test_revisions_list_is_alembics_history() -> None:
    with make_engine("sqlite://").connect() as connection:
        scripts = ScriptDirectory.from_config(alembic_config(connection))
    history = [script.revision for script in scripts.walk_revisions()]
    assert tuple(reversed(history)) == REVISIONS
    assert scripts.get_current_head() == HEAD


def test_migrations_from_scratch_give_exactly_the_metadata(bare: Engine,
                                                           db_url: str) -> None:
    with bare.begin() as connection:
        command.upgrade(alembic_config(connection), "head")
    assert schema_state(bare).revision == HEAD
    assert _diffs(bare) == []
    reference = make_engine(db_url.replace("decnet.db", "reference.db")) \
        if db_url.startswith("sqlite") else None
    if reference is None:  # MariaDB: compare with create_all in the same database
        migrated = _layout(bare)
        reset_db(bare)
        assert _layout(bare) == migrated
        return
    try:
        Base.metadata.create_all(reference)
        assert _layout(bare) == _layout(reference)
    finally:
        reference.dispose()


def test_init_db_creates_and_stamps_an_empty_database(bare: Engine) -> None:
    assert schema_state(bare).empty
    init_db(bare)
    init_db(bare)
    state = schema_state(bare)
    assert state.at_head and not state.legacy
    assert _diffs(bare) == []


def test_a_pre_alembic_database_is_upgraded_with_every_row_kept(bare: Engine) -> None:
    Base.metadata.create_all(bare, tables=[Base.metadata.tables[n] for n in BASELINE_TABLES])
    _fill(bare)
    before = _dump(bare)
    assert all(before.values())
    state = schema_state(bare)
    assert state.legacy and state.revision is None
    with pytest.raises(SchemaOutdated, match="decnet db upgrade"):
        init_db(bare)  # never upgraded as a side effect
    done = upgrade_schema(bare)
    assert (done.before, done.after, done.legacy, done.created) == (None, HEAD, True, False)
    assert _dump(bare) == before
    assert schema_state(bare).at_head
    assert _diffs(bare) == []
    init_db(bare)
    again = upgrade_schema(bare)  # idempotent
    assert (again.before, again.after) == (HEAD, HEAD)
    assert _dump(bare) == before


def test_upgrade_of_an_empty_database_creates_it(bare: Engine) -> None:
    done = upgrade_schema(bare)
    assert done.created and done.after == HEAD
    assert _diffs(bare) == []


def test_a_database_from_a_newer_release_is_refused(bare: Engine) -> None:
    init_db(bare)
    with bare.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    with pytest.raises(SchemaOutdated, match="does not know"):
        init_db(bare)
    with pytest.raises(SchemaOutdated, match="does not know"):
        upgrade_schema(bare)


def test_an_older_revision_is_refused_by_init_and_migrated_by_upgrade(bare: Engine) -> None:
    if len(REVISIONS) < 2:
        pytest.skip("only the baseline exists")
    with bare.begin() as connection:
        command.upgrade(alembic_config(connection), BASELINE)
    _fill(bare)
    before = _dump(bare)
    with pytest.raises(SchemaOutdated, match=BASELINE):
        init_db(bare)
    assert upgrade_schema(bare).before == BASELINE
    assert _dump(bare) == before
    assert _diffs(bare) == []


def test_concurrent_first_starts_create_the_schema_once(db_url: str) -> None:
    engines = [make_engine(db_url) for _ in range(4)]
    errors: list[BaseException] = []
    start = threading.Barrier(len(engines))

    def run(engine: Engine) -> None:
        start.wait()
        try:
            init_db(engine)
        except BaseException as error:  # collected, asserted below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(engine,)) for engine in engines]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
        with engines[0].connect() as connection:
            rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
        assert [row[0] for row in rows] == [HEAD]
    finally:
        for engine in engines:
            engine.dispose()
