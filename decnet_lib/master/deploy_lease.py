"""A deploy holds a lease on its topology, like a mutation claim does.

While a deploy works (Docker or an agent), a heartbeat renews the lease by touching the
topology's `updated_at` every quarter of the lease. A deploy killed with SIGKILL stops
renewing it; once the lease has expired, the next deploy (or the watch loop) records the
topology `failed` with the reason, and re-deploying works instead of being refused.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from decnet_lib.db import Topology, new_session
from decnet_lib.db.models import utcnow
from decnet_lib.db.status import transition
from decnet_lib.settings import get_settings


def lease_seconds() -> float:
    """Deploy lease length (Settings: DECNET_DEPLOY_LEASE_SECONDS, default 60)."""
    return get_settings().deploy_lease_seconds


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def lease_expired(topology: Topology, seconds: float | None = None) -> bool:
    """Is this topology `deploying` with a lease nobody renewed in time?"""
    if topology.status != "deploying" or topology.updated_at is None:
        return False
    limit = timedelta(seconds=seconds or lease_seconds())
    return _aware(utcnow()) - _aware(topology.updated_at) > limit


def recover_expired(session: Session, topology: Topology) -> bool:
    """Record a deploy whose lease expired as failed (in the caller's transaction)."""
    if not lease_expired(topology):
        return False
    since = _aware(topology.updated_at).isoformat(timespec="seconds")
    transition(session, topology, "failed", f"the deploy stopped renewing its lease at {since} "
               "(its process died): recovered")
    return True


def recover_all(engine: Engine) -> list[str]:
    """Recover every topology whose deploy lease expired; their names."""
    recovered = []
    with new_session(engine) as session:
        rows = session.scalars(select(Topology).where(Topology.status == "deploying")
                               .with_for_update()).all()
        for row in rows:
            if recover_expired(session, row):
                recovered.append(row.name)
        session.commit()
    return recovered


@contextmanager
def held_lease(engine: Engine, topology_id: str) -> Iterator[None]:
    """Renew the deploy lease of a topology while the body runs."""
    stop = threading.Event()
    every = lease_seconds() / 4

    def renew() -> None:
        while not stop.wait(every):
            try:
                with new_session(engine) as session:
                    session.execute(update(Topology).where(
                        Topology.id == topology_id, Topology.status == "deploying",
                    ).values(updated_at=utcnow()).execution_options(synchronize_session=False))
                    session.commit()
            except Exception:  # a busy database: the next beat tries again
                continue

    beat = threading.Thread(target=renew, name=f"decnet-lease-{topology_id[:8]}", daemon=True)
    beat.start()
    try:
        yield
    finally:
        stop.set()
        beat.join(5)
