"""Create the schema, or drop every table and create it again (`decnet db reset`).

Schema versions (Alembic) live in `migrate.py`: `init_db` creates an empty database at the
newest revision and refuses one at another revision; `decnet db upgrade` migrates.
"""

from __future__ import annotations

from sqlalchemy import Engine, MetaData

from decnet_lib.db.migrate import ensure_schema


def init_db(engine: Engine) -> None:
    """The schema at head: created and stamped on an empty database (idempotent).

    Raises SchemaOutdated for a database at an older revision or from before Alembic.
    """
    ensure_schema(engine)


def drop_order(metadata: MetaData) -> list[str]:
    """Table names in the order they can be dropped: dependents before what they refer to.

    Only tables of the connection's own database (schema None) are listed: a reflected
    foreign key may pull in a table of another database, which is never ours to drop.
    """
    return [table.name for table in reversed(metadata.sorted_tables) if table.schema is None]


def reset_db(engine: Engine) -> list[str]:
    """Drop every table in the database (also unknown or stale ones, and the version table),
    then create the schema from the metadata, stamped at the newest revision.

    The order comes from the foreign keys of what is really in the database (reflected),
    never from a hand-kept list. Returns the names of the dropped tables, in drop order.
    """
    with engine.begin() as connection:
        reflected = MetaData()
        reflected.reflect(bind=connection)
        dropped = drop_order(reflected)
        for name in dropped:
            reflected.tables[name].drop(connection)
    init_db(engine)
    return dropped
