"""Ingest: gather the events of every agent holding a deployed topology, exactly once.

One page from one agent is: read the agent's cursor `(epoch, seq)` from the master database,
`GET /events?after=seq&epoch=epoch` (long-polled in `--watch`), then under the ingest log's
lock: store the events after the cursor and move the cursor in one transaction
(`db.attack_events.store_page`), commit, append the new rows to DECNET_INGEST_LOG_FILE
(`IngestLog.sync`), and finally publish each on `attack.<topology_id>.<decky>.<service>`.
Why a cursor of agent-side sequence numbers: docs/events.md.

An agent that does not answer is retried with exponential backoff (1 s doubling to 60 s,
with jitter); its events wait in its journal meanwhile. Events older than
DECNET_EVENTS_RETENTION_DAYS are pruned after each `once` and every 10 minutes in `watch`
(`master/retention.py`, a thread of its own, outside the log lock). With DECNET_SYSLOG_TARGET,
the stored events also go to a SIEM (`siem_forward.py`: a thread in `--watch`, after the drain
in `--once`).
"""

from __future__ import annotations

import logging
import random
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Engine

from decnet_lib.db import new_session, session_scope
from decnet_lib.db.attack_events import live_agents, read_cursor, store_page
from decnet_lib.errors import DecnetError
from decnet_lib.events import publish
from decnet_lib.master.agent_client import AgentClient
from decnet_lib.master.attack_events import event_object
from decnet_lib.master.ingest_log import IngestLog
from decnet_lib.master.retention import PRUNE_EVERY_S, prune_events
from decnet_lib.master.siem_forward import SiemForwarder, SiemUnreachable, forwarding_target
from decnet_lib.master.targets import LOCAL

if TYPE_CHECKING:
    from decnet_lib.master.local_feed import LocalFeed
    from decnet_lib.settings import Settings

log = logging.getLogger("decnet.ingest")

PAGE = 1000
WATCH_WAIT_S = 20.0
REFRESH_S = 15.0
BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 60.0
_UNSAFE = re.compile(r"[^A-Za-z0-9_\-]")


class EventFeed(Protocol):
    """What ingest needs from an agent: its events after a sequence number."""

    def events(self, after: int = 0, limit: int = PAGE, wait: float = 0.0,
               epoch: str | None = None) -> dict[str, Any]: ...


ClientFactory = Callable[[str], EventFeed]


def attack_topic(event: dict[str, Any]) -> str:
    """`attack.<topology_id>.<decky>.<service>` (unsafe characters become `_`)."""
    parts = [event.get("topology_id"), event.get("decky"), event.get("service")]
    tokens = [_UNSAFE.sub("_", str(part)) if part else "unknown" for part in parts]
    return "attack." + ".".join(tokens)


def agent_clients(settings: Settings, timeout: float = WATCH_WAIT_S + 30.0) -> ClientFactory:
    """Mutual-TLS clients of the agents, with the master's certificate from the settings."""

    def make(url: str) -> EventFeed:
        return AgentClient(url, cert=settings.master_cert, key=settings.master_key,
                           ca=settings.ca, timeout=timeout)

    return make


@dataclass
class SourceResult:
    """What one agent gave in `ingest_once`."""

    source: str
    stored: int = 0
    pages: int = 0
    error: str | None = None


@dataclass
class IngestReport:
    """The outcome of one `ingest_once`: per agent, and lines caught up in the log file."""

    sources: list[SourceResult] = field(default_factory=list)
    caught_up: int = 0
    pruned: int = 0
    prune_error: str | None = None
    forwarded: int = 0
    """Events sent to DECNET_SYSLOG_TARGET (when set)."""
    forward_error: str | None = None

    @property
    def stored(self) -> int:
        return sum(result.stored for result in self.sources)

    @property
    def ok(self) -> bool:
        return all(result.error is None for result in self.sources)


class Ingester:
    """Pulls pages from agents into the database, the ingest log file and the bus."""

    def __init__(self, settings: Settings, engine: Engine,
                 clients: ClientFactory | None = None, page: int = PAGE) -> None:
        self.settings = settings
        self.engine = engine
        self.clients = clients or agent_clients(settings)
        self.page = page
        assert settings.ingest_log_file is not None
        self.log = IngestLog(settings.ingest_log_file)
        self.after_commit: Callable[[], None] | None = None
        """Called after each page is committed (the SIEM forwarder's wake-up)."""
        self._local: LocalFeed | None = None
        self._local_lock = threading.Lock()

    def close(self) -> None:
        self.log.close()
        if self._local is not None:
            self._local.close()

    def local(self) -> LocalFeed:
        """The local target's feed (its collector runs in this process), made once."""
        from decnet_lib.master.local_feed import LocalFeed

        with self._local_lock:
            if self._local is None:
                self._local = LocalFeed(self.settings, self.engine)
            return self._local

    def feed(self, source: str) -> EventFeed:
        """Where the events of `source` are read: an agent, or the local target's journal."""
        return self.local() if source == LOCAL else self.clients(source)

    def sources(self) -> list[str]:
        """The agents holding a deployed topology."""
        session = new_session(self.engine)
        try:
            return live_agents(session)
        finally:
            session.rollback()
            session.close()

    def _cursor(self, source: str) -> tuple[str, int]:
        session = new_session(self.engine)
        try:
            return read_cursor(session, source)
        finally:
            session.rollback()
            session.close()

    def catch_up(self) -> int:
        """Write stored events missing from the log file (a crash after a commit)."""
        with self.log.locked():
            return self.log.sync(self.engine)

    def pull(self, source: str, wait: float = 0.0) -> tuple[int, int]:
        """One page from `source`: (events received, events newly stored). Raises
        DecnetError (AgentError) when the agent cannot be read."""
        epoch, seq = self._cursor(source)
        answer = self.feed(source).events(after=seq, limit=self.page, wait=wait,
                                             epoch=epoch or None)
        entries = answer.get("events")
        new_epoch = answer.get("epoch")
        if not isinstance(entries, list) or not isinstance(new_epoch, str) or not new_epoch:
            raise DecnetError(f"agent {source}: malformed /events answer", code="AGENT")
        if not entries:
            return 0, 0
        return len(entries), self.store(source, new_epoch, entries)

    def store(self, source: str, epoch: str, entries: list[dict[str, Any]]) -> int:
        """Store a page under the log lock, write it to the log file, publish it; how many
        events were new."""
        with self.log.locked():
            with session_scope(self.engine) as session:
                rows = store_page(session, source, epoch, entries)
                objects = [event_object(row) for row in rows]
            self.log.sync(self.engine, rows)
        if self.after_commit is not None:
            self.after_commit()
        for obj in objects:
            publish(attack_topic(obj), obj)
        return len(objects)

    def drain(self, source: str) -> SourceResult:
        """Every page `source` has now (no waiting)."""
        result = SourceResult(source)
        try:
            if source == LOCAL:
                self.local().collect_once()
            while True:
                received, stored = self.pull(source)
                result.pages += 1
                result.stored += stored
                if received < self.page:
                    return result
        except DecnetError as exc:
            result.error = str(exc)
            return result

    def once(self) -> IngestReport:
        """Catch the log file up, drain every live agent once, then prune old events."""
        report = IngestReport(caught_up=self.catch_up())
        report.sources = [self.drain(source) for source in self.sources()]
        try:
            report.pruned = self.prune()
        except DecnetError as exc:
            report.prune_error = str(exc)
        return report

    def prune(self) -> int:
        """Delete the events older than the retention; how many went."""
        return prune_events(self.settings, self.engine).deleted

    def prune_every(self, stop: threading.Event, every: float = PRUNE_EVERY_S) -> None:
        """Prune now and every `every` seconds until `stop` (errors are logged, retried)."""
        while not stop.is_set():
            try:
                pruned = self.prune()
                if pruned:
                    log.info("ingest: pruned %d events older than the retention", pruned)
            except Exception as exc:  # a database hiccup: the next pass catches up
                log.warning("ingest: pruning old events failed: %s", exc)
            stop.wait(every)

    # -- watch ------------------------------------------------------------------------------
    def follow(self, source: str, stop: threading.Event, live: Callable[[str], bool],
               wait: float = WATCH_WAIT_S) -> None:
        """Long-poll `source` until `stop` or it holds no deployed topology; back off on
        errors (1 s doubling to 60 s, with jitter)."""
        delay = BACKOFF_FIRST_S
        while not stop.is_set() and live(source):
            try:
                if source == LOCAL:
                    self.local().follow()
                self.pull(source, wait=wait)
                delay = BACKOFF_FIRST_S
            except Exception as exc:  # an agent away, a database hiccup: retry later
                pause = delay * random.uniform(0.8, 1.2)
                log.warning("ingest from %s failed (retrying in %.1fs): %s", source, pause,
                            exc)
                stop.wait(pause)
                delay = min(delay * 2, BACKOFF_MAX_S)

    def watch(self, stop: threading.Event, wait: float = WATCH_WAIT_S,
              refresh: float = REFRESH_S, prune_every: float = PRUNE_EVERY_S) -> None:
        """One long-polling thread per live agent, the set refreshed every `refresh` s, and
        one pruning old events every `prune_every` s."""
        self.catch_up()
        current: frozenset[str] = frozenset()
        threads: dict[str, threading.Thread] = {}
        pruner = threading.Thread(target=self.prune_every, args=(stop, prune_every),
                                  name="ingest-prune", daemon=True)
        pruner.start()

        def live(source: str) -> bool:  # the latest list, not the one a thread started with
            return source in current

        while not stop.is_set():
            try:
                current = frozenset(self.sources())
            except Exception as exc:
                log.warning("ingest: cannot list the agents: %s", exc)
            for source in sorted(current):
                thread = threads.get(source)
                if thread is None or not thread.is_alive():
                    thread = threading.Thread(
                        target=self.follow, args=(source, stop, live, wait),
                        name=f"ingest-{source}", daemon=True)
                    threads[source] = thread
                    thread.start()
            stop.wait(refresh)
        for thread in [*threads.values(), pruner]:
            thread.join(wait + 5)


def ingest_once(settings: Settings, engine: Engine,
                clients: ClientFactory | None = None) -> IngestReport:
    """Drain every agent holding a deployed topology once (`decnet ingest --once`), then
    forward what is stored to DECNET_SYSLOG_TARGET when it is set."""
    target = forwarding_target(settings)  # a malformed target fails before anything changes
    forwarder = SiemForwarder(settings, engine, target) if target else None
    ingester = Ingester(settings, engine, clients)
    try:
        report = ingester.once()
        if forwarder is not None:
            try:
                forwarder.forward()
            except SiemUnreachable as exc:
                report.forward_error = str(exc)
            report.forwarded = forwarder.sent
        return report
    finally:
        ingester.close()
        if forwarder is not None:
            forwarder.close()


def ingest_watch(settings: Settings, engine: Engine, stop: threading.Event,
                 clients: ClientFactory | None = None, wait: float = WATCH_WAIT_S,
                 refresh: float = REFRESH_S, prune_every: float = PRUNE_EVERY_S) -> None:
    """Long-poll every live agent until `stop` (`decnet ingest --watch`), pruning old
    events every `prune_every` seconds; with DECNET_SYSLOG_TARGET, a thread forwards what is
    stored meanwhile."""
    target = forwarding_target(settings)
    forwarder = SiemForwarder(settings, engine, target) if target else None
    ingester = Ingester(settings, engine, clients)
    thread: threading.Thread | None = None
    if forwarder is not None:
        ingester.after_commit = forwarder.wake.set
        thread = threading.Thread(target=forwarder.run, args=(stop,), name="siem-forward",
                                  daemon=True)
        thread.start()
    try:
        ingester.watch(stop, wait, refresh, prune_every)
    finally:
        ingester.close()
        if forwarder is not None and thread is not None:
            forwarder.wake.set()
            thread.join(30)
            forwarder.close()
