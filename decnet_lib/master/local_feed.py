"""The local target's events: the agent's collector and journal, run inside the ingester.

A topology deployed on the master's own Docker (`agent` = `local`) has no agent to collect
its deckies' stdout. The ingester runs the same `LogCollector` in-process for it, limited to
the local topologies, journalling into `DECNET_STATE_DIR/local/events.db` (its RFC 5424
record in `local/decky.log`, its Docker read cursors in `local/log-cursors.json`), and reads
that journal exactly like an agent's `GET /events` (`EventJournal.page`). The cursor source
is `local`, so the exactly-once design of docs/events.md holds unchanged: the journal key
dedupes a replayed line, the master's `(epoch, seq)` cursor moves with the stored rows.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from decnet_lib.db import new_session
from decnet_lib.db.attack_events import live_topologies_on
from decnet_lib.errors import DecnetError
from decnet_lib.master.targets import LOCAL

if TYPE_CHECKING:
    from decnet_lib.logs.collector import ClientFactory, LogCollector
    from decnet_lib.logs.journal import EventJournal
    from decnet_lib.settings import Settings

POLL_S = 0.05
"""How often a long poll looks at the journal (as the agent's `GET /events`)."""
MAX_WAIT_S = 1.0
"""A local long poll returns within this (no network to spare): a stopping ingester exits."""
HELD_TTL_S = 2.0
"""How long the list of local topologies is reused before it is read again."""
LOCAL_AGENTS = (None, "", LOCAL)


def local_dir(settings: Settings) -> Path:
    """Where the local target's collector keeps its journal, log and read cursors."""
    return settings.state_dir / LOCAL


def local_settings(settings: Settings) -> Settings:
    """`settings` with the collector's files moved under `local_dir` (never an agent's)."""
    where = local_dir(settings)
    return settings.model_copy(update={"agent_log_file": where / "decky.log",
                                       "agent_events_file": where / "events.db"})


class LocalFeed:
    """An `EventFeed` for the local target: collect (once, or following), then page."""

    def __init__(self, settings: Settings, engine: Engine,
                 docker_client: ClientFactory | None = None) -> None:
        from decnet_lib.logs.collector import LogCollector
        from decnet_lib.logs.journal import EventJournal
        from decnet_lib.logs.journal_pruner import JournalPruner

        self.engine = engine
        self.settings = local_settings(settings)
        self._held: tuple[float, frozenset[str]] = (0.0, frozenset())
        self._held_lock = threading.Lock()
        self.collector: LogCollector = LogCollector(
            self.settings, docker_client, cursor_file=local_dir(settings) / "log-cursors.json",
            held_topologies=self.held)
        assert self.settings.agent_events_file is not None
        self.journal: EventJournal = EventJournal(self.settings.agent_events_file)
        # acknowledged by the ingester's cursor (`page`), pruned as an agent's journal is
        self.pruner = JournalPruner(self.journal, settings.agent_events_max_days).start()

    def held(self) -> frozenset[str]:
        """The deployed local topologies (read again every HELD_TTL_S)."""
        with self._held_lock:
            read_at, ids = self._held
            if time.monotonic() - read_at < HELD_TTL_S:
                return ids
            with new_session(self.engine) as session:
                ids = frozenset(live_topologies_on(session, LOCAL_AGENTS))
                session.rollback()
            self._held = (time.monotonic(), ids)
            return ids

    def collect_once(self) -> int:
        """Journal what the local deckies have written so far; the events journalled.
        Raises DecnetError (LOCAL_COLLECTOR) when Docker or the files cannot be used."""
        try:
            return self.collector.collect_once()
        except DecnetError:
            raise
        except Exception as exc:
            raise DecnetError(f"local collector: {exc}", code="LOCAL_COLLECTOR") from exc

    def follow(self) -> None:
        """Follow the local deckies' stdout from now on (idempotent); what they wrote while
        nobody followed, stopped ones included, is collected first."""
        if not self.collector.running:
            self.collect_once()
            self.collector.start()

    def events(self, after: int = 0, limit: int = 1000, wait: float = 0.0,
               epoch: str | None = None) -> dict[str, Any]:
        """The journal's events after `after`, long-polled up to `wait` (at most
        MAX_WAIT_S) seconds."""
        deadline = time.monotonic() + min(wait, MAX_WAIT_S)
        while True:
            page = self.journal.page(after, limit, epoch)
            if page["events"] or time.monotonic() >= deadline:
                return page
            time.sleep(POLL_S)

    def close(self) -> None:
        self.collector.stop()
        self.pruner.stop()
        self.journal.close()
