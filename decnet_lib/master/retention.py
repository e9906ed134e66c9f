"""Retention of the master's attacker events (DECNET_EVENTS_RETENTION_DAYS).

Events older than the retention are deleted in bounded batches, each its own short
transaction (`db.event_retention`), never under the ingest log's lock nor an ingest cursor's
row lock, so ingest keeps storing meanwhile. Only events the ingest log file has already
written go: readers that follow the table by id (the log file) move forward only, and a
deleted row below their position is one they have passed, so they neither skip nor repeat.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from decnet_lib.db.event_retention import BATCH, count_old_events, delete_old_events
from decnet_lib.db.models import utcnow
from decnet_lib.master.ingest_log import logged_up_to
from decnet_lib.master.siem_forward import forwarded_up_to

if TYPE_CHECKING:
    from decnet_lib.settings import Settings

PRUNE_EVERY_S = 600.0
"""How often `decnet ingest --watch` prunes."""


@dataclass(frozen=True)
class PruneReport:
    """What one pass did: events older than `before` (None: retention is off)."""

    before: datetime | None
    deleted: int
    dry_run: bool = False


def readers_position(settings: Settings) -> int:
    """The highest event id every reader by id has passed: the ingest log file's and, with
    DECNET_SYSLOG_TARGET, the SIEM forwarder's (events wait for a SIEM that is down)."""
    assert settings.ingest_log_file is not None
    position = logged_up_to(settings.ingest_log_file)
    if settings.syslog_target:
        position = min(position, forwarded_up_to(settings))
    return position


def retention_cutoff(settings: Settings, now: datetime | None = None) -> datetime | None:
    """Events older than this go; None when DECNET_EVENTS_RETENTION_DAYS is 0."""
    if settings.events_retention_days <= 0:
        return None
    return (now or utcnow()) - timedelta(days=settings.events_retention_days)


def prune_events(settings: Settings, engine: Engine, *, dry_run: bool = False,
                 now: datetime | None = None, batch: int = BATCH) -> PruneReport:
    """Delete (or with `dry_run` count) the events older than the retention."""
    before = retention_cutoff(settings, now)
    if before is None:
        return PruneReport(None, 0, dry_run)
    upto = readers_position(settings)
    if dry_run:
        return PruneReport(before, count_old_events(engine, before, upto), True)
    return PruneReport(before, delete_old_events(engine, before, upto, batch))
