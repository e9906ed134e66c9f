"""A thread that prunes the agent's event journal now and every few minutes.

It applies `EventJournal.prune` with the hard cap DECNET_AGENT_EVENTS_MAX_DAYS (0: none), so
a journal whose master never comes still stops growing; acknowledged entries go in the same
pass (the rule: docs/events.md, "Retention").
"""

from __future__ import annotations

import logging
import threading

from decnet_lib.logs.journal import EventJournal

PRUNE_EVERY_S = 600.0
DAY_S = 86400.0
log = logging.getLogger("decnet.agent.journal")


class JournalPruner:
    """Prunes one journal every `every` seconds until `stop`."""

    def __init__(self, journal: EventJournal, max_days: int,
                 every: float = PRUNE_EVERY_S) -> None:
        self.journal = journal
        self.max_age_s = max_days * DAY_S if max_days > 0 else None
        self.every = every
        self.pruned = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="journal-prune", daemon=True)

    def start(self) -> JournalPruner:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(30)

    def prune_once(self) -> int:
        """One pass; how many entries went."""
        done = self.journal.prune(max_age_s=self.max_age_s)
        self.pruned += done
        return done

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                done = self.prune_once()
                if done:
                    log.info("event journal: pruned %d entries", done)
            except Exception as exc:  # a busy or damaged file: the next pass retries
                log.warning("event journal: pruning failed: %s", exc)
            self._stop.wait(self.every)
