"""Baseline: the schema as `metadata.create_all` made it before Alembic.

Frozen here (no import of the models): topologies, lans, deckies, edges, topology_events and
mutations. A database made by the releases before Alembic is exactly this revision.

Revision ID: 0001_baseline
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None

MYSQL_TABLE = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4",
               "mysql_collate": "utf8mb4_bin"}
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC_TIME = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def _id(length: int = 32) -> sa.Column:
    return sa.Column("id", sa.String(length=length), nullable=False)


def _big_id() -> sa.Column:
    return sa.Column("id", BIG_ID, autoincrement=True, nullable=False)


def _topology_id() -> list[sa.SchemaItem]:
    return [
        sa.Column("topology_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["topology_id"], ["topologies.id"], ondelete="CASCADE"),
    ]


def upgrade() -> None:
    op.create_table(
        "topologies",
        _id(),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("agent", sa.String(length=255), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
        **MYSQL_TABLE,
    )
    op.create_table(
        "deckies",
        _id(),
        *_topology_id(),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("archetype", sa.String(length=64), nullable=True),
        sa.Column("services", sa.JSON(), nullable=False),
        sa.Column("forwards_l3", sa.Boolean(), nullable=False),
        sa.Column("expose", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("config", sa.JSON(none_as_null=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("topology_id", "name"),
        **MYSQL_TABLE,
    )
    op.create_table(
        "lans",
        _id(),
        *_topology_id(),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("subnet", sa.String(length=43), nullable=False),
        sa.Column("dmz", sa.Boolean(), nullable=False),
        sa.Column("driver", sa.String(length=16), nullable=False),
        sa.Column("parent", sa.String(length=64), nullable=True),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("topology_id", "name"),
        **MYSQL_TABLE,
    )
    op.create_table(
        "mutations",
        _big_id(),
        *_topology_id(),
        sa.Column("op", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("claimed_by", sa.String(length=128), nullable=True),
        sa.Column("claimed_at", UTC_TIME, nullable=True),
        sa.Column("lease_until", UTC_TIME, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("finished_at", UTC_TIME, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        **MYSQL_TABLE,
    )
    op.create_index("ix_mutations_state_topology", "mutations", ["state", "topology_id"])
    op.create_index("ix_mutations_topology_id", "mutations", ["topology_id"])
    op.create_table(
        "topology_events",
        _big_id(),
        *_topology_id(),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        **MYSQL_TABLE,
    )
    op.create_index("ix_topology_events_topology_id", "topology_events", ["topology_id"])
    op.create_table(
        "edges",
        _big_id(),
        *_topology_id(),
        sa.Column("decky_id", sa.String(length=32), nullable=False),
        sa.Column("lan_id", sa.String(length=32), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["decky_id"], ["deckies.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["lan_id"], ["lans.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("decky_id", "lan_id"),
        **MYSQL_TABLE,
    )
    op.create_index("ix_edges_lan_id", "edges", ["lan_id"])
    op.create_index("ix_edges_topology_id", "edges", ["topology_id"])


def downgrade() -> None:
    for table in ("edges", "topology_events", "mutations", "lans", "deckies", "topologies"):
        op.drop_table(table)
