"""Attacker events: the `events` table and the per-agent `ingest_cursors`.

Revision ID: 0002_events
Revises: 0001_baseline
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0002_events"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None

MYSQL_TABLE = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4",
               "mysql_collate": "utf8mb4_bin"}
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC_TIME = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("ts", UTC_TIME, nullable=False),
        sa.Column("topology_id", sa.String(length=32), nullable=True),
        sa.Column("topology", sa.String(length=64), nullable=True),
        sa.Column("decky", sa.String(length=64), nullable=True),
        sa.Column("lan", sa.String(length=64), nullable=True),
        sa.Column("service", sa.String(length=64), nullable=True),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("src_ip", sa.String(length=45), nullable=True),
        sa.Column("src_port", sa.Integer(), nullable=True),
        sa.Column("dst_ip", sa.String(length=45), nullable=True),
        sa.Column("dst_port", sa.Integer(), nullable=True),
        sa.Column("proto", sa.String(length=16), nullable=True),
        sa.Column("session", sa.String(length=64), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.Column("epoch", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("ingested_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "epoch", "seq", name="uq_events_source_seq"),
        **MYSQL_TABLE,
    )
    op.create_index("ix_events_ts", "events", ["ts"])
    op.create_index("ix_events_topology_ts", "events", ["topology_id", "ts"])
    op.create_index("ix_events_src_ip_ts", "events", ["src_ip", "ts"])
    op.create_index("ix_events_decky_ts", "events", ["topology_id", "decky", "ts"])
    op.create_table(
        "ingest_cursors",
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.Column("epoch", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("source"),
        **MYSQL_TABLE,
    )


def downgrade() -> None:
    op.drop_table("ingest_cursors")
    op.drop_table("events")
