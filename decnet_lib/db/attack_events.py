"""Attacker events on the master: store a page from an agent's journal exactly once, query.

`store_page` runs in the caller's transaction: it locks the source's cursor row, keeps only
the events after it (a new journal epoch starts over), inserts them and moves the cursor, so
the rows and the cursor commit together and two ingesters never store one event twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from decnet_lib.db.models import (
    AttackEvent,
    Decky,
    Edge,
    IngestCursor,
    Lan,
    Topology,
    utcnow,
)
from decnet_lib.db.status import DEPLOYED_STATUSES

MAX_TEXT = 64


def read_cursor(session: Session, source: str) -> tuple[str, int]:
    """The (epoch, seq) ingested so far from `source` (("", 0) when never)."""
    row = session.get(IngestCursor, source)
    return (row.epoch, row.seq) if row is not None else ("", 0)


def _locked_cursor(session: Session, source: str) -> IngestCursor:
    """The cursor row of `source`, created when missing, locked until the transaction ends."""
    query = select(IngestCursor).where(IngestCursor.source == source).with_for_update()
    row = session.scalars(query).one_or_none()
    if row is not None:
        return row
    try:
        with session.begin_nested():
            session.add(IngestCursor(source=source, epoch="", seq=0))
    except IntegrityError:
        pass  # another ingester made it meanwhile
    return session.scalars(query.execution_options(populate_existing=True)).one()


def live_agents(session: Session) -> list[str]:
    """The agent URLs that hold a deployed topology (the sources to ingest from)."""
    query = (select(Topology.agent).where(Topology.status.in_(DEPLOYED_STATUSES),
                                          Topology.agent.is_not(None))
             .distinct().order_by(Topology.agent))
    return [agent for agent in session.scalars(query) if agent]


def decky_homes(session: Session, topology_ids: Iterable[str]
                ) -> dict[tuple[str, str], tuple[str, str]]:
    """(topology_id, decky) -> (home LAN name, home address) for the given topologies."""
    ids = sorted(set(topology_ids))
    if not ids:
        return {}
    query = (select(Decky.topology_id, Decky.name, Lan.name, Edge.ip)
             .join(Edge, Edge.decky_id == Decky.id).join(Lan, Lan.id == Edge.lan_id)
             .where(Decky.topology_id.in_(ids), Edge.position == 0))
    return {(tid, name): (lan, ip) for tid, name, lan, ip in session.execute(query)}


def _text(value: Any, limit: int = MAX_TEXT) -> str | None:
    if value is None or value == "":
        return None
    return str(value)[:limit]


def _port(value: Any) -> int | None:
    try:
        port = int(value)
    except (TypeError, ValueError):
        return None
    return port if 0 <= port <= 65535 else None


def _moment(value: Any) -> datetime:
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return utcnow()


def event_row(entry: Mapping[str, Any], source: str, epoch: str,
              homes: Mapping[tuple[str, str], tuple[str, str]]) -> AttackEvent:
    """The row of one journalled event (as the agent's collector built it)."""
    fields = entry.get("fields")
    fields = dict(fields) if isinstance(fields, Mapping) else {}
    topology_id = _text(entry.get("topology_id"), 32)
    decky = _text(entry.get("decky"))
    lan, dst_ip = homes.get((topology_id or "", decky or ""), (None, None))
    return AttackEvent(
        ts=_moment(entry.get("ts")),
        topology_id=topology_id,
        topology=_text(entry.get("topology")),
        decky=decky,
        lan=lan,
        service=_text(entry.get("service")),
        event=_text(entry.get("event")) or "unknown",
        src_ip=_text(entry.get("src_ip"), 45),
        src_port=_port(entry.get("src_port")),
        dst_ip=_text(fields.get("dst_ip"), 45) or dst_ip,
        dst_port=_port(entry.get("dst_port")),
        proto=_text(entry.get("proto"), 16),
        session=_text(fields.get("session")),
        fields=fields,
        source=source,
        epoch=epoch[:32],
        seq=int(entry["seq"]),
    )


def store_page(session: Session, source: str, epoch: str,
               entries: Sequence[Mapping[str, Any]]) -> list[AttackEvent]:
    """Insert the entries after `source`'s cursor and move the cursor (caller commits).

    Returns the new rows (ids assigned), oldest first; [] when all were stored before.
    """
    cursor = _locked_cursor(session, source)
    if cursor.epoch != epoch:  # a new journal on the agent: its numbers start over
        cursor.epoch, cursor.seq = epoch, 0
    fresh = sorted((e for e in entries if int(e["seq"]) > cursor.seq), key=lambda e: e["seq"])
    if not fresh:
        session.flush()
        return []
    homes = decky_homes(session, {str(e.get("topology_id") or "") for e in fresh})
    rows = [event_row(entry, source, epoch, homes) for entry in fresh]
    session.add_all(rows)
    cursor.seq = rows[-1].seq
    cursor.updated_at = utcnow()
    session.flush()
    return rows


def events_after(session: Session, after_id: int, limit: int) -> list[AttackEvent]:
    """Stored events with an id above `after_id`, in id order."""
    query = select(AttackEvent).where(AttackEvent.id > after_id).order_by(AttackEvent.id)
    return list(session.scalars(query.limit(limit)))


def _filtered(query: Select[Any], *, topology_id: str | None, topology: str | None,
              src_ip: str | None, since: datetime | None) -> Select[Any]:
    if topology_id is not None:
        query = query.where(AttackEvent.topology_id == topology_id)
    if topology is not None:  # by name: a topology deleted since
        query = query.where(AttackEvent.topology == topology)
    if src_ip is not None:
        query = query.where(AttackEvent.src_ip == src_ip)
    if since is not None:
        query = query.where(AttackEvent.ts >= since)
    return query


def query_events(session: Session, *, topology_id: str | None = None,
                 topology: str | None = None, src_ip: str | None = None,
                 since: datetime | None = None,
                 after_id: int = 0, limit: int | None = None) -> list[AttackEvent]:
    """Stored events, oldest first, filtered by topology (id or name), attacker and time."""
    query = _filtered(select(AttackEvent).where(AttackEvent.id > after_id),
                      topology_id=topology_id, topology=topology, src_ip=src_ip, since=since)
    query = query.order_by(AttackEvent.ts, AttackEvent.id)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def iter_events(session: Session, *, topology_id: str | None = None,
                topology: str | None = None, since: datetime | None = None,
                page: int = 2000) -> Iterator[AttackEvent]:
    """Every matching event in (ts, id) order, read `page` rows at a time (keyset paging:
    memory stays bounded however many there are; each page is expunged once yielded)."""
    base = _filtered(select(AttackEvent), topology_id=topology_id, topology=topology,
                     src_ip=None, since=since).order_by(AttackEvent.ts, AttackEvent.id)
    last: tuple[datetime, int] | None = None
    while True:
        query = base
        if last is not None:
            query = query.where(or_(AttackEvent.ts > last[0],
                                    and_(AttackEvent.ts == last[0], AttackEvent.id > last[1])))
        rows = list(session.scalars(query.limit(page)))
        yield from rows
        if len(rows) < page:
            return
        last = (rows[-1].ts, rows[-1].id)
        for row in rows:
            session.expunge(row)


def event_topologies(session: Session, *, topology_id: str | None = None,
                     topology: str | None = None, since: datetime | None = None) -> list[str]:
    """The distinct topology ids of the matching events."""
    query = _filtered(select(AttackEvent.topology_id).distinct(), topology_id=topology_id,
                      topology=topology, src_ip=None, since=since)
    return sorted(tid for tid in session.scalars(query) if tid)


def decky_addresses(session: Session, topology_ids: Iterable[str]
                    ) -> list[tuple[str, str, str, str, bool]]:
    """(topology_id, decky, LAN, address, LAN is the DMZ) of every decky's every LAN, in
    each decky's LAN order (home first)."""
    ids = sorted(set(topology_ids))
    if not ids:
        return []
    query = (select(Decky.topology_id, Decky.name, Lan.name, Edge.ip, Lan.dmz)
             .join(Edge, Edge.decky_id == Decky.id).join(Lan, Lan.id == Edge.lan_id)
             .where(Decky.topology_id.in_(ids))
             .order_by(Decky.topology_id, Decky.position, Edge.position))
    return [(tid, decky, lan, ip, bool(dmz)) for tid, decky, lan, ip, dmz
            in session.execute(query)]
