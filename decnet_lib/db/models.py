"""ORM models of the master database: topologies, their LANs, deckies, edges, events, mutations.

Every child row belongs to one topology and goes with it (ON DELETE CASCADE in the database,
`cascade="all, delete-orphan"` + `passive_deletes=True` in the ORM).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeEngine

NAME_LEN = 64
ID_LEN = 32
IP_LEN = 45
SUBNET_LEN = 43
STATUS_LEN = 16

MUTATION_STATES = ("pending", "applying", "applied", "failed")

# InnoDB with a case-sensitive utf8mb4 collation, so that MySQL compares names like SQLite.
_MYSQL_TABLE = {
    "mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin",
}

# BIGINT on MySQL, but INTEGER on SQLite: only `INTEGER PRIMARY KEY` autoincrements there.
BigIntId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A UTC timestamp: stored naive (microseconds kept on MySQL), always read back aware.

    Naive values given to it are taken as UTC already.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of every MazeNET table."""

    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute
        datetime: UtcDateTime(),
        dict[str, Any]: JSON(),
        list[str]: JSON(),
    }


def _children() -> dict[str, Any]:
    return {"cascade": "all, delete-orphan", "passive_deletes": True}


def _topology_fk() -> Any:
    return ForeignKey("topologies.id", ondelete="CASCADE")


class Topology(Base):
    """A maze: its identity, status and the canonical hash of its resolved form."""

    __tablename__ = "topologies"
    __table_args__ = (_MYSQL_TABLE,)

    id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LEN), unique=True)
    status: Mapped[str] = mapped_column(String(STATUS_LEN), default="pending")
    hash: Mapped[str] = mapped_column(String(64), default="")
    agent: Mapped[str | None] = mapped_column(String(255), default=None)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    lans: Mapped[list[Lan]] = relationship(
        back_populates="topology", order_by="Lan.position", **_children()
    )
    deckies: Mapped[list[Decky]] = relationship(
        back_populates="topology", order_by="Decky.position", **_children()
    )
    edges: Mapped[list[Edge]] = relationship(back_populates="topology", **_children())
    events: Mapped[list[TopologyEvent]] = relationship(
        back_populates="topology", order_by="TopologyEvent.id", **_children()
    )
    mutations: Mapped[list[Mutation]] = relationship(
        back_populates="topology", order_by="Mutation.id", **_children()
    )

    def __repr__(self) -> str:
        return f"Topology(name={self.name!r}, status={self.status!r}, id={self.id!r})"


class Lan(Base):
    """A LAN: one Docker network with an explicit subnet; `position` keeps document order."""

    __tablename__ = "lans"
    __table_args__ = (UniqueConstraint("topology_id", "name"), _MYSQL_TABLE)

    id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    topology_id: Mapped[str] = mapped_column(_topology_fk())
    name: Mapped[str] = mapped_column(String(NAME_LEN))
    subnet: Mapped[str] = mapped_column(String(SUBNET_LEN))
    dmz: Mapped[bool] = mapped_column(default=False)
    driver: Mapped[str] = mapped_column(String(16), default="bridge")
    parent: Mapped[str | None] = mapped_column(String(NAME_LEN), default=None)
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    position: Mapped[int] = mapped_column(Integer, default=0)

    topology: Mapped[Topology] = relationship(back_populates="lans")
    edges: Mapped[list[Edge]] = relationship(back_populates="lan", **_children())


class Decky(Base):
    """A decoy host. `config` (the config blob) holds service_config, images and meta.

    `config` may be NULL (a decky not hydrated yet): readers fall back to name and services.
    """

    __tablename__ = "deckies"
    __table_args__ = (UniqueConstraint("topology_id", "name"), _MYSQL_TABLE)

    id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    topology_id: Mapped[str] = mapped_column(_topology_fk())
    name: Mapped[str] = mapped_column(String(NAME_LEN))
    archetype: Mapped[str | None] = mapped_column(String(NAME_LEN), default=None)
    services: Mapped[list[str]] = mapped_column(default=list)
    forwards_l3: Mapped[bool] = mapped_column(default=False)
    expose: Mapped[bool] = mapped_column(default=False)
    position: Mapped[int] = mapped_column(Integer, default=0)
    config: Mapped[dict[str, Any] | None] = mapped_column(
        JSON(none_as_null=True), nullable=True, default=None
    )

    topology: Mapped[Topology] = relationship(back_populates="deckies")
    edges: Mapped[list[Edge]] = relationship(
        back_populates="decky", order_by="Edge.position", **_children()
    )


class Edge(Base):
    """Membership of a decky in a LAN with its IP there; position 0 is the decky's home."""

    __tablename__ = "edges"
    __table_args__ = (UniqueConstraint("decky_id", "lan_id"), _MYSQL_TABLE)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    topology_id: Mapped[str] = mapped_column(_topology_fk(), index=True)
    decky_id: Mapped[str] = mapped_column(ForeignKey("deckies.id", ondelete="CASCADE"))
    lan_id: Mapped[str] = mapped_column(ForeignKey("lans.id", ondelete="CASCADE"), index=True)
    ip: Mapped[str] = mapped_column(String(IP_LEN))
    position: Mapped[int] = mapped_column(Integer, default=0)

    topology: Mapped[Topology] = relationship(back_populates="edges")
    decky: Mapped[Decky] = relationship(back_populates="edges")
    lan: Mapped[Lan] = relationship(back_populates="edges")


class TopologyEvent(Base):
    """One status change of a topology, with its reason."""

    __tablename__ = "topology_events"
    __table_args__ = (_MYSQL_TABLE,)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    topology_id: Mapped[str] = mapped_column(_topology_fk(), index=True)
    from_status: Mapped[str | None] = mapped_column(String(STATUS_LEN), default=None)
    to_status: Mapped[str] = mapped_column(String(STATUS_LEN))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    topology: Mapped[Topology] = relationship(back_populates="events")


class Mutation(Base):
    """A queued change to a topology; claimed with a lease by a reconciler."""

    __tablename__ = "mutations"
    __table_args__ = (Index("ix_mutations_state_topology", "state", "topology_id"), _MYSQL_TABLE)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    topology_id: Mapped[str] = mapped_column(_topology_fk(), index=True)
    op: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(STATUS_LEN), default="pending")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(128), default=None)
    claimed_at: Mapped[datetime | None] = mapped_column(default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[Any | None] = mapped_column(JSON(none_as_null=True), nullable=True, default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)

    topology: Mapped[Topology] = relationship(back_populates="mutations")


class AttackEvent(Base):
    """One event a decky recorded, ingested from an agent's journal (exactly once).

    `source` is the agent it came from and (`epoch`, `seq`) its place in that agent's
    journal: unique, so an event is never stored twice. No foreign key to the topology:
    attacker history outlives a deleted topology (retention removes it).
    """

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("source", "epoch", "seq", name="uq_events_source_seq"),
        Index("ix_events_ts", "ts"),
        Index("ix_events_topology_ts", "topology_id", "ts"),
        Index("ix_events_src_ip_ts", "src_ip", "ts"),
        Index("ix_events_decky_ts", "topology_id", "decky", "ts"),
        _MYSQL_TABLE,
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    ts: Mapped[datetime]
    topology_id: Mapped[str | None] = mapped_column(String(ID_LEN), default=None)
    topology: Mapped[str | None] = mapped_column(String(NAME_LEN), default=None)
    decky: Mapped[str | None] = mapped_column(String(NAME_LEN), default=None)
    lan: Mapped[str | None] = mapped_column(String(NAME_LEN), default=None)
    service: Mapped[str | None] = mapped_column(String(NAME_LEN), default=None)
    event: Mapped[str] = mapped_column(String(NAME_LEN))
    src_ip: Mapped[str | None] = mapped_column(String(IP_LEN), default=None)
    src_port: Mapped[int | None] = mapped_column(Integer, default=None)
    dst_ip: Mapped[str | None] = mapped_column(String(IP_LEN), default=None)
    dst_port: Mapped[int | None] = mapped_column(Integer, default=None)
    proto: Mapped[str | None] = mapped_column(String(16), default=None)
    session: Mapped[str | None] = mapped_column(String(NAME_LEN), default=None)
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    source: Mapped[str] = mapped_column(String(255))
    epoch: Mapped[str] = mapped_column(String(ID_LEN))
    seq: Mapped[int] = mapped_column(BigInteger)
    ingested_at: Mapped[datetime] = mapped_column(default=utcnow)


class IngestCursor(Base):
    """How far the master has ingested one agent's journal: its epoch and last sequence."""

    __tablename__ = "ingest_cursors"
    __table_args__ = (_MYSQL_TABLE,)

    source: Mapped[str] = mapped_column(String(255), primary_key=True)
    epoch: Mapped[str] = mapped_column(String(ID_LEN), default="")
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ApiToken(Base):
    """A bearer token of the master API: its name, role and the hash of its secret.

    A token reads `dn_<lookup>_<secret>`: `lookup` finds the row, the SHA-256 of the secret
    is compared in constant time. The secret itself is never stored.
    """

    __tablename__ = "api_tokens"
    __table_args__ = (_MYSQL_TABLE,)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(NAME_LEN), unique=True)
    role: Mapped[str] = mapped_column(String(STATUS_LEN))
    lookup: Mapped[str] = mapped_column(String(ID_LEN), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
