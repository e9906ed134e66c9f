"""Attacker events as the front ends see them: the event object, listing with filters.

The event object (DESIGN.md "Attacker events on the master") is `event_object(row)`:
`{"id", "ts" (ISO 8601 UTC), "topology", "topology_id", "decky", "lan", "service", "event",
"src_ip", "src_port", "dst_ip", "dst_port", "proto", "session", "fields"}`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, inspect

from decnet_lib.db import get_topology
from decnet_lib.db.attack_events import StoredEvent, query_events
from decnet_lib.db.models import AttackEvent
from decnet_lib.errors import DecnetError
from decnet_lib.master.database import existing_engine, read_session

if TYPE_CHECKING:
    from decnet_lib.settings import Settings

_AGO = re.compile(r"(\d+)\s*([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class BadSince(DecnetError):
    code = "BAD_SINCE"
    exit_code = 2


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with a `Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_object(row: AttackEvent | StoredEvent) -> dict[str, Any]:
    """The `--json` and API form of one stored event."""
    return {
        "id": row.id,
        "ts": iso(row.ts),
        "topology": row.topology,
        "topology_id": row.topology_id,
        "decky": row.decky,
        "lan": row.lan,
        "service": row.service,
        "event": row.event,
        "src_ip": row.src_ip,
        "src_port": row.src_port,
        "dst_ip": row.dst_ip,
        "dst_port": row.dst_port,
        "proto": row.proto,
        "session": row.session,
        "fields": dict(row.fields or {}),
    }


def parse_since(text: str | None, now: datetime | None = None) -> datetime | None:
    """`10m`, `2h`, `3d`, `45s` ago, or an ISO 8601 moment (naive = UTC); None for None."""
    if text is None:
        return None
    value = text.strip()
    match = _AGO.fullmatch(value)
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        try:
            return (now or datetime.now(UTC)) - timedelta(seconds=amount * _UNITS[unit])
        except (OverflowError, ValueError):
            raise BadSince(f"--since {text!r}: too far back") from None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadSince(f"--since {text!r}: expected e.g. 10m, 2h, 3d or an ISO 8601 time"
                       ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@contextmanager
def events_engine(settings: Settings) -> Iterator[Engine | None]:
    """An engine for reading events, creating nothing: None while the database or its
    events table does not exist yet (no events, then)."""
    with existing_engine(settings, check_mode=True) as engine:
        yield engine if engine is not None and inspect(engine).has_table("events") else None


def list_events(settings: Settings, *, topology: str | None = None,
                attacker: str | None = None, since: str | None = None,
                after_id: int = 0, limit: int | None = None) -> list[dict[str, Any]]:
    """Stored events, oldest first (filters: topology name, attacker address, since)."""
    with events_engine(settings) as engine:
        return list_events_in(engine, topology=topology, attacker=attacker, since=since,
                              after_id=after_id, limit=limit)


def list_events_in(engine: Engine | None, *, topology: str | None = None,
                   attacker: str | None = None, since: str | None = None,
                   after_id: int = 0, limit: int | None = None) -> list[dict[str, Any]]:
    """`list_events` on an engine the caller keeps (a server's: no engine per request);
    None (no database yet) has no events."""
    moment = parse_since(since)
    with read_session(engine) as session:
        if session is None:
            return []
        stored = get_topology(session, topology) if topology else None
        rows = query_events(session, topology_id=stored.id if stored else None,
                            topology=topology if topology and stored is None else None,
                            src_ip=attacker, since=moment, after_id=after_id, limit=limit)
        return [event_object(row) for row in rows]
