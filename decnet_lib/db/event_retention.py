"""Delete stored attacker events older than a moment, a bounded batch per transaction.

A batch picks the ids of the oldest events through the `ts` index (`ix_events_ts`), at most
`limit` of them and none above `upto_id` (what every reader by id has passed), then deletes
exactly those primary keys. Each batch is its own short transaction, so an ingester storing a
page waits at most one batch (SQLite: one BEGIN IMMEDIATE; MariaDB: row locks on the deleted
keys only, no gap locks where new rows go). Between batches the pruner pauses as long as the
batch took (at least PAUSE_S), so a writer waiting on SQLite's lock gets its turn.
"""

from __future__ import annotations

import time
from datetime import datetime

from sqlalchemy import ColumnElement, Engine, delete, func, select

from decnet_lib.db.engine import session_scope
from decnet_lib.db.models import AttackEvent

BATCH = 5000
PAUSE_S = 0.02


def _old(before: datetime, upto_id: int) -> list[ColumnElement[bool]]:
    return [AttackEvent.ts < before, AttackEvent.id <= upto_id]


def count_old_events(engine: Engine, before: datetime, upto_id: int) -> int:
    """How many stored events are older than `before`, with an id up to `upto_id`."""
    with session_scope(engine) as session:
        query = select(func.count()).select_from(AttackEvent).where(*_old(before, upto_id))
        return int(session.scalar(query) or 0)


def delete_old_batch(engine: Engine, before: datetime, upto_id: int, limit: int = BATCH
                     ) -> int:
    """Delete up to `limit` of the oldest such events in one transaction; how many went."""
    with session_scope(engine) as session:
        ids = list(session.scalars(
            select(AttackEvent.id).where(*_old(before, upto_id))
            .order_by(AttackEvent.ts, AttackEvent.id).limit(limit)))
        if not ids:
            return 0
        result = session.execute(delete(AttackEvent).where(AttackEvent.id.in_(ids)),
                                 execution_options={"synchronize_session": False})
        return int(result.rowcount)  # fewer when another pruner took some meanwhile


def delete_old_events(engine: Engine, before: datetime, upto_id: int, limit: int = BATCH,
                      pause: float = PAUSE_S) -> int:
    """Delete every such event, `limit` per transaction, pausing between them; how many."""
    total = 0
    while True:
        started = time.monotonic()
        done = delete_old_batch(engine, before, upto_id, limit)
        total += done
        if done < limit:
            return total
        time.sleep(max(pause, time.monotonic() - started))
