"""Retention on a real database and a real agent: old events go, new ones stay, ingest goes on.

The master's table is pruned on SQLite and MariaDB while another thread keeps storing pages
through the ingest path (store, commit, log file); the agent's journal is pruned of what the
master acknowledged through real `GET /events` requests, and by the hard cap in the agent's
own pruner thread, and the restarted agent still answers with the same epoch.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select
from test_ingest import Agent, Deckies, _live_topology

from decnet_lib.cli import main
from decnet_lib.db import AttackEvent, IngestCursor, init_db, make_engine, session_scope
from decnet_lib.db.models import utcnow
from decnet_lib.logs.journal import EventJournal
from decnet_lib.master.ingest import Ingester, agent_clients, ingest_watch
from decnet_lib.master.retention import prune_events
from decnet_lib.pki import init_ca, issue
from decnet_lib.settings import Settings

OLD = 300
LIVE_PAGES = 20
HOUR = 3600.0


@pytest.fixture
def master(tmp_path: Path, db_url: str) -> Settings:
    pki = tmp_path / "agent" / "pki"
    init_ca(pki)
    issue(pki, "agent", "server")
    issue(pki, "master", "client")
    return Settings(state_dir=tmp_path / "master", db_url=db_url, bus="null",
                    master_cert=pki / "master.crt", master_key=pki / "master.key",
                    ca=pki / "ca.crt", events_retention_days=90)


@pytest.fixture
def engine(master: Settings) -> Iterator[Engine]:
    engine = make_engine(master.db_url, sqlite_immediate=True)
    init_db(engine)
    try:
        yield engine
    finally:
        engine.dispose()


def _page(first: int, count: int, age_days: float) -> list[dict[str, Any]]:
    ts = (utcnow() - timedelta(days=age_days)).timestamp()
    return [{"seq": seq, "ts": ts, "event": "login", "service": "ssh", "src_ip": "198.51.100.4"}
            for seq in range(first, first + count)]


def _log_ids(master: Settings) -> list[int]:
    assert master.ingest_log_file is not None
    return [int(m) for m in re.findall(r'\[decnet@32473 id="(\d+)"',
                                       master.ingest_log_file.read_text())]


def test_old_events_go_in_batches_while_ingest_keeps_storing(
    master: Settings, engine: Engine,
) -> None:
    ingester = Ingester(master, engine)
    try:
        for first in range(1, OLD + 1, 100):
            ingester.store("old-agent", "e1", _page(first, 100, age_days=120))
        ingester.store("old-agent", "e1", _page(OLD + 1, 10, age_days=30))
        batches: list[float] = []
        event.listen(engine, "after_cursor_execute",
                     lambda *args: batches.append(time.monotonic())
                     if args[2].lstrip().upper().startswith("DELETE") else None)
        stored: list[tuple[float, float]] = []
        pruned: list[int] = []

        def keep_ingesting() -> None:
            for page in range(LIVE_PAGES):
                started = time.monotonic()
                assert ingester.store("live-agent", "e2", _page(page * 10 + 1, 10, 0)) == 10
                stored.append((started, time.monotonic()))
                time.sleep(0.01)

        writer = threading.Thread(target=keep_ingesting)
        writer.start()
        pruned.append(prune_events(master, engine, batch=10).deleted)
        writer.join(60)
        assert not writer.is_alive()
    finally:
        ingester.close()

    assert pruned == [OLD] and len(batches) >= OLD // 10
    assert len(stored) == LIVE_PAGES
    during = [end for _, end in stored if batches[0] < end < batches[-1]]
    assert during, "no page was stored while the pruner ran"
    assert max(end - start for start, end in stored) < 5.0
    with session_scope(engine) as session:
        kept = session.execute(select(AttackEvent.source, func.count())
                               .group_by(AttackEvent.source)).all()
        assert dict(kept) == {"old-agent": 10, "live-agent": LIVE_PAGES * 10}
        ids = list(session.scalars(select(AttackEvent.id).order_by(AttackEvent.id)))
    logged = _log_ids(master)
    assert logged == sorted(set(logged))          # each line once, in id order
    assert set(ids) <= set(logged)                # nothing kept is missing from the file
    assert len(logged) == OLD + 10 + LIVE_PAGES * 10


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_agent_prunes_what_the_master_acknowledged(
    tmp_path: Path, master: Settings, engine: Engine,
) -> None:
    agent = Agent(tmp_path / "agent")
    journal_file = agent.state / "agent-events.db"
    agent.start()
    try:
        topology_id = _live_topology(engine, agent.url)
        deckies = Deckies(agent.state, topology_id)
        deckies.emit(30)
        assert _once(master, engine) == 30            # pages of 7: asked last after=28
        client = agent_clients(master)(agent.url)
        client.events(after=30, limit=1)              # no epoch: acknowledges nothing
        client.events(after=30, limit=1, epoch="another")
        with EventJournal(journal_file) as journal:
            assert journal.acked() == 28
        assert _once(master, engine) == 0             # asks after=30: acknowledges 30
        deckies.emit(10)                              # 31..40: not ingested yet
        with EventJournal(journal_file) as journal:
            epoch = journal.epoch
            assert journal.acked() == 30
            assert journal.prune() == 0               # acknowledged, but not an hour old
            assert journal.prune(now=time.time() + 2 * HOUR) == 30   # the pruner, later
            assert [e.seq for e in journal.read(0, 100)] == list(range(31, 41))

        agent.stop()
        agent.start()                                 # a restarted agent, pruned journal
        answer = agent_clients(master)(agent.url).events(after=0, limit=100, epoch=epoch)
        assert answer["epoch"] == epoch
        assert [e["seq"] for e in answer["events"]] == list(range(31, 41))
        assert _once(master, engine) == 10
        _once(master, engine)                         # acknowledges 40
        deckies.emit(5)                               # 41..45, never acknowledged

        agent.stop()                                  # 31..43 journalled 40 days ago
        with sqlite3.connect(journal_file) as db:
            db.execute("UPDATE events SET at = at - 40 * 86400 WHERE seq <= 43")
        agent.start()                                 # its pruner: the 30-day hard cap
        deadline = time.monotonic() + 15
        with EventJournal(journal_file) as journal:
            while [e.seq for e in journal.read(0, 100)] != [44, 45]:
                assert time.monotonic() < deadline, journal.read(0, 100)
                time.sleep(0.2)
            assert journal.epoch == epoch
        assert _once(master, engine) == 2             # 41..43 went unread (the hard cap)
    finally:
        agent.stop()
    with session_scope(engine) as session:
        seqs = list(session.scalars(select(AttackEvent.seq).order_by(AttackEvent.seq)))
        cursor = session.get(IngestCursor, agent.url)
        assert cursor is not None and (cursor.epoch, cursor.seq) == (epoch, 45)
    assert seqs == [*range(1, 41), 44, 45]


def test_watch_prunes_every_so_often(master: Settings, engine: Engine) -> None:
    ingester = Ingester(master, engine)
    try:
        ingester.store("agent", "e1", _page(1, 5, age_days=100))
    finally:
        ingester.close()
    stop = threading.Event()
    watcher = threading.Thread(target=ingest_watch, args=(master, engine, stop),
                               kwargs={"refresh": 0.2, "prune_every": 0.5})
    watcher.start()
    try:
        time.sleep(1.0)                           # the first pass, at start
        ingester = Ingester(master, engine)       # older events arrive later (a slow agent)
        try:
            ingester.store("agent", "e1", _page(6, 4, age_days=100))
            ingester.store("agent", "e1", _page(10, 1, age_days=0))
        finally:
            ingester.close()
        deadline = time.monotonic() + 10
        while True:
            with session_scope(engine) as session:
                seqs = list(session.scalars(select(AttackEvent.seq)))
            if seqs == [10] or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert seqs == [10]
    finally:
        stop.set()
        watcher.join(30)
    assert not watcher.is_alive()


def test_cli_prune_dry_run_then_prune(
    master: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ingester = Ingester(master, engine)
    try:
        ingester.store("agent", "e1", _page(1, 12, age_days=10))
        ingester.store("agent", "e1", _page(13, 3, age_days=1))
    finally:
        ingester.close()
    for name, value in {"DECNET_STATE_DIR": master.state_dir, "DECNET_DB_URL": master.db_url,
                        "DECNET_BUS": "null", "DECNET_EVENTS_RETENTION_DAYS": "7"}.items():
        monkeypatch.setenv(name, str(value))
    monkeypatch.delenv("DECNET_MODE", raising=False)
    capsys.readouterr()
    assert main(["ingest", "--prune", "--dry-run"]) == 0
    assert "would delete 12 events older than" in capsys.readouterr().err
    assert main(["ingest", "--prune"]) == 0
    assert "deleted 12 events older than" in capsys.readouterr().err
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(AttackEvent)) == 3
    assert main(["ingest", "--once", "--dry-run"]) == 2
    assert "error[BAD_PARAMETER]: --dry-run goes with --prune" in capsys.readouterr().err
    monkeypatch.setenv("DECNET_EVENTS_RETENTION_DAYS", "-1")
    assert main(["ingest", "--prune"]) == 1
    assert "error[BAD_SETTING]: DECNET_EVENTS_RETENTION_DAYS: must be 0" in \
        capsys.readouterr().err
    monkeypatch.setenv("DECNET_EVENTS_RETENTION_DAYS", "0")
    assert main(["ingest", "--prune"]) == 0
    assert "kept forever" in capsys.readouterr().err
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(AttackEvent)) == 3


def _once(master: Settings, engine: Engine) -> int:
    ingester = Ingester(master, engine, page=7)
    try:
        report = ingester.once()
    finally:
        ingester.close()
    assert report.ok, report
    return report.stored
