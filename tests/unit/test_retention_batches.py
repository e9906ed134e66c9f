"""Retention in bounded batches: the master's events table and the agent's journal."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select

from decnet_lib.db import AttackEvent, init_db, make_engine, session_scope
from decnet_lib.db.attack_events import store_page
from decnet_lib.db.event_retention import count_old_events, delete_old_events
from decnet_lib.errors import InvalidSettings
from decnet_lib.logs.journal import EventJournal, prunable_prefix
from decnet_lib.master.retention import prune_events
from decnet_lib.settings import get_settings

NOW = datetime(2026, 6, 1, tzinfo=UTC)
HOUR = 3600.0


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Any:
    engine = make_engine(f"sqlite:///{tmp_path / 'decnet.db'}", sqlite_immediate=True)
    init_db(engine)
    yield engine
    engine.dispose()


def _store(engine: Engine, source: str, seqs: range, ts: datetime) -> None:
    entries = [{"seq": seq, "ts": ts.timestamp(), "event": "login", "src_ip": "203.0.113.9"}
               for seq in seqs]
    with session_scope(engine) as session:
        store_page(session, source, "e1", entries)


def _ids(engine: Engine) -> list[int]:
    with session_scope(engine) as session:
        return list(session.scalars(select(AttackEvent.id).order_by(AttackEvent.id)))


def test_old_events_go_a_bounded_batch_per_transaction(sqlite_engine: Engine) -> None:
    _store(sqlite_engine, "a", range(1, 31), NOW - timedelta(days=100))  # ids 1..30
    _store(sqlite_engine, "a", range(31, 41), NOW - timedelta(days=1))   # ids 31..40
    deletes: list[int] = []
    commits: list[int] = []

    def on_delete(_conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("DELETE"):
            deletes.append(cursor.rowcount)

    event.listen(sqlite_engine, "after_cursor_execute", on_delete)
    event.listen(sqlite_engine, "commit", lambda _conn: commits.append(1))
    before = NOW - timedelta(days=90)
    assert count_old_events(sqlite_engine, before, upto_id=40) == 30
    assert delete_old_events(sqlite_engine, before, upto_id=40, limit=7) == 30
    assert deletes == [7, 7, 7, 7, 2]          # never more than the limit at once
    assert len(commits) >= len(deletes)       # each batch committed on its own
    assert _ids(sqlite_engine) == list(range(31, 41))


def test_events_the_ingest_log_has_not_written_stay(sqlite_engine: Engine) -> None:
    _store(sqlite_engine, "a", range(1, 11), NOW - timedelta(days=100))
    before = NOW - timedelta(days=90)
    assert delete_old_events(sqlite_engine, before, upto_id=4, limit=3) == 4
    assert _ids(sqlite_engine) == list(range(5, 11))


def test_prune_follows_the_setting_and_the_ingest_log(sqlite_engine: Engine,
                                                      tmp_path: Path) -> None:
    _store(sqlite_engine, "a", range(1, 6), NOW - timedelta(days=10))
    log = tmp_path / "ingest.log"
    off = get_settings(state_dir=tmp_path, events_retention_days=0, ingest_log_file=log)
    assert prune_events(off, sqlite_engine, now=NOW).before is None
    week = get_settings(state_dir=tmp_path, events_retention_days=7, ingest_log_file=log)
    assert prune_events(week, sqlite_engine, now=NOW).deleted == 0  # nothing logged yet
    (tmp_path / "ingest.log.pos").write_text('{"last_id": 3}')
    dry = prune_events(week, sqlite_engine, now=NOW, dry_run=True)
    assert (dry.deleted, dry.dry_run, dry.before) == (3, True, NOW - timedelta(days=7))
    assert len(_ids(sqlite_engine)) == 5
    assert prune_events(week, sqlite_engine, now=NOW).deleted == 3
    with session_scope(sqlite_engine) as session:
        assert session.scalar(select(func.count()).select_from(AttackEvent)) == 2


def test_events_a_down_siem_has_not_received_stay(sqlite_engine: Engine, tmp_path: Path) -> None:
    _store(sqlite_engine, "a", range(1, 7), NOW - timedelta(days=10))
    log = tmp_path / "ingest.log"
    (tmp_path / "ingest.log.pos").write_text('{"last_id": 6}')
    week = get_settings(state_dir=tmp_path, events_retention_days=7, ingest_log_file=log,
                        syslog_target="tcp://127.0.0.1:6514")
    assert prune_events(week, sqlite_engine, now=NOW).deleted == 0  # nothing forwarded yet
    (tmp_path / "syslog-forward.json").write_text('{"last_id": 2}')
    assert prune_events(week, sqlite_engine, now=NOW).deleted == 2
    assert _ids(sqlite_engine) == [3, 4, 5, 6]


@pytest.mark.parametrize("name", ["events_retention_days", "agent_events_max_days"])
@pytest.mark.parametrize("bad", ["-1", "ninety", "1.5", ""])
def test_a_bad_number_of_days_is_a_clear_error(name: str, bad: str) -> None:
    if bad == "":  # empty means unset: the default
        assert getattr(get_settings(**{name: "90"}), name) == 90
        return
    with pytest.raises(InvalidSettings) as caught:
        get_settings(**{name: bad})
    assert caught.value.code == "BAD_SETTING"
    assert str(caught.value).startswith(f"DECNET_{name.upper()}: must be 0")


def test_days_default_and_zero() -> None:
    settings = get_settings()
    assert (settings.events_retention_days, settings.agent_events_max_days) == (90, 30)
    assert get_settings(events_retention_days="0").events_retention_days == 0


# -- the agent's journal ---------------------------------------------------------------------
def test_the_prunable_prefix_stops_at_the_first_entry_that_stays() -> None:
    rows = [(1, 10.0), (2, 20.0), (3, 30.0), (4, 5.0)]
    assert prunable_prefix(rows, acked=3, acked_before=25.0, capped_before=None) == 2
    assert prunable_prefix(rows, acked=1, acked_before=25.0, capped_before=None) == 1
    assert prunable_prefix(rows, acked=0, acked_before=99.0, capped_before=15.0) == 1
    assert prunable_prefix(rows, acked=9, acked_before=99.0, capped_before=None) == 4
    assert prunable_prefix([(1, None)], acked=1, acked_before=99.0, capped_before=99.0) == 0


def _journal(path: Path, count: int) -> EventJournal:
    journal = EventJournal(path)
    journal.append_many([({"n": i}, None) for i in range(count)])
    return journal


def test_only_acknowledged_entries_an_hour_old_go_in_batches(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    with _journal(path, 12) as journal:
        statements: list[str] = []
        journal._db.set_trace_callback(statements.append)
        assert journal.prune() == 0                       # nothing acknowledged
        journal.acknowledge(10)
        assert journal.prune() == 0                       # acknowledged, but too young
        statements.clear()
        assert journal.prune(now=time.time() + 2 * HOUR, batch=4) == 10
        assert [s for s in statements if s.startswith(("DELETE", "COMMIT"))] == \
            ["DELETE FROM events WHERE seq <= 4", "COMMIT", "DELETE FROM events WHERE seq <= 8",
             "COMMIT", "DELETE FROM events WHERE seq <= 10", "COMMIT"]
        assert [entry.seq for entry in journal.read(0, 100)] == [11, 12]


def test_the_hard_cap_prunes_what_was_never_acknowledged(tmp_path: Path) -> None:
    with _journal(tmp_path / "events.db", 5) as journal:
        assert journal.prune(now=time.time() + 10 * 86400, max_age_s=30 * 86400) == 0
        assert journal.prune(now=time.time() + 31 * 86400, max_age_s=30 * 86400) == 5
        assert journal.read(0, 100) == []


def test_a_reopened_journal_keeps_its_epoch_acknowledgement_and_numbers(tmp_path: Path
                                                                       ) -> None:
    path = tmp_path / "events.db"
    with _journal(path, 3) as journal:
        epoch = journal.epoch
        journal.acknowledge(99)                           # never above what was numbered
        assert journal.acked() == 3
        journal.acknowledge(2)                            # never backwards
        assert journal.acked() == 3
        assert journal.prune(now=time.time() + 2 * HOUR) == 3
    with EventJournal(path) as journal:                   # the agent restarted
        assert (journal.epoch, journal.acked()) == (epoch, 3)
        assert journal.append({"n": 3}) == 4              # numbers go on after an empty file
        assert [entry.seq for entry in journal.read(3, 10)] == [4]


def test_a_journal_made_before_pruning_gets_its_time_column(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT UNIQUE, "
        "body BLOB NOT NULL); CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "INSERT INTO meta VALUES ('epoch', 'e0'); INSERT INTO events (body) VALUES ('{}');")
    old.close()
    with EventJournal(path) as journal:
        assert journal.epoch == "e0"
        journal.acknowledge(1)
        assert journal.prune() == 0                       # its age is counted from now
        assert journal.prune(now=time.time() + 2 * HOUR) == 1
        assert journal.append({}) == 2
