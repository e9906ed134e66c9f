"""Alembic environment: runs on the connection `decnet_lib.db.migrate` hands it.

Never reads alembic.ini, the environment or a URL: the caller opens the database (with the
schema lock held) and passes the connection in `config.attributes["connection"]`.
"""

from __future__ import annotations

from alembic import context

from decnet_lib.db.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters by copying tables
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
