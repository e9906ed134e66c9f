"""Schema creation and `db reset`: every table dropped in FK order (stale ones too), recreated."""

from __future__ import annotations

from helpers import count_rows, sample_resolved
from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    insert,
    inspect,
    select,
    text,
)

from decnet_lib.db import (
    ApiToken,
    AttackEvent,
    Base,
    IngestCursor,
    Mutation,
    create_topology,
    init_db,
    list_topologies,
    reset_db,
    session_scope,
    transition,
    utcnow,
)

SCHEMA = {table.name for table in Base.metadata.sorted_tables} | {"alembic_version"}


def _fill(engine: Engine) -> str:
    with session_scope(engine) as session:
        row = create_topology(session, sample_resolved())
        transition(session, row, "deploying", "go")
        session.add(Mutation(topology_id=row.id, op="add_lan", payload={"name": "x"}))
        session.add(AttackEvent(ts=utcnow(), topology_id=row.id, event="connect",
                                source="https://agent:8765", epoch="e1", seq=1))
        session.add(IngestCursor(source="https://agent:8765", epoch="e1", seq=1))
        session.add(ApiToken(name="ops", role="operator", lookup="0" * 16, secret_hash="0" * 64))
        return row.id


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def test_init_db_is_idempotent_and_keeps_rows(engine: Engine) -> None:
    assert _tables(engine) >= SCHEMA
    _fill(engine)
    init_db(engine)
    init_db(engine)
    with session_scope(engine) as session:
        assert [row.name for row in list_topologies(session)] == ["acme"]


def test_reset_leaves_every_table_empty_and_recreated(engine: Engine) -> None:
    _fill(engine)
    assert all(count_rows(engine).values())
    dropped = reset_db(engine)
    assert set(dropped) == SCHEMA
    assert dropped.index("edges") < dropped.index("deckies") < dropped.index("topologies")
    assert dropped.index("edges") < dropped.index("lans") < dropped.index("topologies")
    assert _tables(engine) == SCHEMA
    assert set(count_rows(engine).values()) == {0}
    _fill(engine)  # the recreated schema works, constraints included
    assert count_rows(engine)["edges"] == 6


def test_reset_drops_stale_tables_with_foreign_keys(engine: Engine) -> None:
    """Tables the schema does not know, referring to ours and to each other, go first."""
    topology_id = _fill(engine)
    stale = MetaData()
    legacy = Table(
        "legacy_deckies", stale,
        Column("id", Integer, primary_key=True),
        Column("topology_id", String(32), ForeignKey("topologies.id")),  # no cascade
        Column("edge_id", BigInteger().with_variant(Integer, "sqlite"), ForeignKey("edges.id")),
        mysql_engine="InnoDB",
    )
    notes = Table(
        "legacy_notes", stale,
        Column("id", Integer, primary_key=True),
        Column("legacy_id", Integer, ForeignKey("legacy_deckies.id")),
        mysql_engine="InnoDB",
    )
    Table("topologies", stale, Column("id", String(32), primary_key=True))
    Table("edges", stale, Column("id", BigInteger, primary_key=True))
    with engine.begin() as connection:
        legacy.create(connection)
        notes.create(connection)
        edge_id = connection.execute(text("SELECT MIN(id) FROM edges")).scalar_one()
        connection.execute(insert(legacy), [{"id": 1, "topology_id": topology_id,
                                             "edge_id": edge_id}])
        connection.execute(insert(notes), [{"id": 1, "legacy_id": 1}])
    dropped = reset_db(engine)
    assert dropped.index("legacy_notes") < dropped.index("legacy_deckies")
    assert dropped.index("legacy_deckies") < dropped.index("edges") < dropped.index("topologies")
    assert _tables(engine) == SCHEMA
    assert set(count_rows(engine).values()) == {0}


def test_reset_recreates_an_outdated_table_and_works_on_an_empty_database(
    engine: Engine,
) -> None:
    reset_db(engine)
    with engine.begin() as connection:  # an old layout of the events table
        Base.metadata.tables["topology_events"].drop(connection)
        connection.execute(text("CREATE TABLE topology_events (id INTEGER PRIMARY KEY)"))
    reset_db(engine)
    columns = {column["name"] for column in inspect(engine).get_columns("topology_events")}
    assert {"from_status", "to_status", "reason", "created_at"} <= columns
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            table.drop(connection)
    assert reset_db(engine) == ["alembic_version"]
    assert _tables(engine) == SCHEMA
    with session_scope(engine) as session:
        assert session.scalars(select(Mutation)).all() == []
