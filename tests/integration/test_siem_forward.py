"""Forwarding ingested events to a real rsyslog (tcp, tcp+tls, udp), each line once.

Events are stored through ingest's own store (`store_page`, as a page from an agent) or, for
the watch, by a real agent process through `decnet ingest --watch`'s code; rsyslogd writes
what it receives to a file, compared line by line with DECNET_INGEST_LOG_FILE (the same
RFC 5424 line). With rsyslogd stopped the events wait in the database and arrive once when it
is back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import sample_resolved, store_live
from rsyslog import Rsyslog
from sqlalchemy import Engine

from decnet_lib.db import init_db, make_engine, session_scope
from decnet_lib.db.attack_events import store_page
from decnet_lib.master.ingest import ingest_once, ingest_watch
from decnet_lib.master.siem_forward import BATCH, POSITION_FILE
from decnet_lib.pki import init_ca, issue
from decnet_lib.settings import Settings

TRANSPORTS = ["tcp", "tcp+tls", "udp"]


def _entries(first: int, count: int) -> list[dict[str, object]]:
    """A page as an agent's journal gives it; values that need escaping and UTF-8."""
    return [{"seq": seq, "ts": time.time(), "topology": "acme", "topology_id": "t" * 32,
             "decky": "web01", "service": "ssh", "event": "login", "src_ip": "203.0.113.7",
             "src_port": 40000 + seq, "dst_port": 22, "proto": "tcp",
             "fields": {"user": "root", "password": f'pä]ss"{seq}\\', "session": f"s{seq}"}}
            for seq in range(first, first + count)]


def _store(engine: Engine, first: int, count: int) -> None:
    with session_scope(engine) as session:
        store_page(session, "https://agent.test:8443", "epoch1", _entries(first, count))


def _ingest_lines(settings: Settings) -> list[str]:
    assert settings.ingest_log_file is not None
    return settings.ingest_log_file.read_text(encoding="utf-8").splitlines()


def _wait_for(rsyslog: Rsyslog, count: int, timeout: float = 20.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = rsyslog.lines()
        if len(lines) >= count:
            time.sleep(0.3)  # anything extra (a duplicate) would arrive meanwhile
            return rsyslog.lines()
        time.sleep(0.05)
    return rsyslog.lines()


def _assert_each_once(received: list[str], expected: list[str]) -> None:
    duplicates = [line for line, n in Counter(received).items() if n > 1]
    assert not duplicates, duplicates[:3]
    assert sorted(received) == sorted(expected)


@pytest.fixture
def master_db(tmp_path: Path, db_url: str) -> Iterator[tuple[Settings, Engine]]:
    """The master's state directory and database (SQLite or MariaDB), schema made."""
    engine = make_engine(db_url, sqlite_immediate=True)
    init_db(engine)
    try:
        yield Settings(state_dir=tmp_path / "master", db_url=db_url, bus="null"), engine
    finally:
        engine.dispose()


@pytest.fixture(params=TRANSPORTS)
def rsyslog(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Rsyslog]:
    server = Rsyslog(tmp_path / "rsyslog", request.param)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _settings(master: Settings, rsyslog: Rsyslog, **extra: object) -> Settings:
    return master.model_copy(update={"syslog_target": rsyslog.url, "syslog_ca": rsyslog.ca,
                                     **extra})


def test_ingest_once_forwards_every_stored_event_once(
    master_db: tuple[Settings, Engine], rsyslog: Rsyslog,
) -> None:
    master, engine = master_db
    settings = _settings(master, rsyslog)
    _store(engine, 1, 40)
    report = ingest_once(settings, engine)
    assert report.forward_error is None and report.forwarded == 40
    expected = _ingest_lines(settings)
    assert len(expected) == 40
    _assert_each_once(_wait_for(rsyslog, 40), expected)
    assert 'password="pä\\]ss\\"1\\\\"' in expected[0]  # escaped, UTF-8, octet-counted

    assert ingest_once(settings, engine).forwarded == 0  # nothing new: nothing twice
    _store(engine, 41, 25)
    assert ingest_once(settings, engine).forwarded == 25
    expected = _ingest_lines(settings)
    _assert_each_once(_wait_for(rsyslog, 65), expected)


def test_events_wait_while_rsyslog_is_down_and_arrive_once(
    master_db: tuple[Settings, Engine], rsyslog: Rsyslog,
) -> None:
    """`--once` with the target down stores, reports SIEM_UNREACHABLE and queues; the next
    run after rsyslogd is back sends each waiting event once."""
    master, engine = master_db
    settings = _settings(master, rsyslog)
    _store(engine, 1, 10)
    assert ingest_once(settings, engine).forwarded == 10
    assert len(_wait_for(rsyslog, 10)) == 10
    rsyslog.stop()
    _store(engine, 11, 30)
    report = ingest_once(settings, engine)
    assert report.forward_error is not None and rsyslog.url in report.forward_error
    assert report.forwarded == 0
    rsyslog.start()
    report = ingest_once(settings, engine)
    assert report.forward_error is None and report.forwarded == 30
    _assert_each_once(_wait_for(rsyslog, 40), _ingest_lines(settings))
    assert (settings.state_dir / POSITION_FILE).exists()


def test_watch_forwards_from_a_real_agent_and_catches_up_after_an_outage(
    tmp_path: Path, master_db: tuple[Settings, Engine],
) -> None:
    """`ingest --watch` with a real agent: events flow to rsyslog over TLS; rsyslogd
    stopped, more events are ingested and wait; back, they arrive, each once."""
    from test_ingest import Agent, Deckies

    master, engine = master_db
    pki = tmp_path / "agent" / "pki"
    init_ca(pki)
    issue(pki, "agent", "server")
    issue(pki, "master", "client")
    agent = Agent(tmp_path / "agent")
    rsyslog = Rsyslog(tmp_path / "rsyslog", "tcp+tls")
    rsyslog.start()
    agent.start()
    settings = _settings(master, rsyslog, master_cert=pki / "master.crt",
                         master_key=pki / "master.key", ca=pki / "ca.crt")
    with session_scope(engine) as session:
        row = store_live(session, sample_resolved())
        row.agent = agent.url
        topology_id = row.id
    deckies = Deckies(agent.state, topology_id)
    stop = threading.Event()
    watch = threading.Thread(target=ingest_watch, args=(settings, engine, stop),
                             kwargs={"wait": 2.0, "refresh": 0.5}, daemon=True)
    watch.start()
    try:
        deckies.emit(12)
        assert len(_wait_for(rsyslog, 12)) == 12
        rsyslog.stop()
        deckies.emit(20)
        deadline = time.monotonic() + 20
        while len(_ingest_lines(settings)) < 32 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(_ingest_lines(settings)) == 32  # ingest goes on while the SIEM is away
        assert len(rsyslog.lines()) == 12
        rsyslog.start()  # the forwarder retries with backoff (1 s, 2 s, ...)
        _assert_each_once(_wait_for(rsyslog, 32, timeout=30), _ingest_lines(settings))
    finally:
        stop.set()
        watch.join(30)
        agent.stop()
        rsyslog.stop()
    assert not watch.is_alive()


def test_a_forwarder_killed_midway_resends_at_most_one_batch(tmp_path: Path) -> None:
    """`decnet ingest --watch` killed (SIGKILL) while forwarding over TCP, then `--once`:
    every event arrives, and only the batch in flight at the kill may arrive twice."""
    state = tmp_path / "master"
    db_url = f"sqlite:///{state / 'decnet.db'}"
    engine = make_engine(db_url, sqlite_immediate=True)
    init_db(engine)
    total = 4000
    for first in range(1, total + 1, 1000):
        _store(engine, first, 1000)
    engine.dispose()
    rsyslog = Rsyslog(tmp_path / "rsyslog", "tcp")
    rsyslog.start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DECNET_")}
    env.update(DECNET_STATE_DIR=str(state), DECNET_DB_URL=db_url, DECNET_BUS="null",
               DECNET_MODE="master", DECNET_SYSLOG_TARGET=rsyslog.url)
    command = [sys.executable, "-m", "decnet_lib.cli", "ingest"]
    position = state / POSITION_FILE
    try:
        watch = subprocess.Popen([*command, "--watch"], env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while not position.exists() and time.monotonic() < deadline:
            time.sleep(0.002)
        watch.kill()  # our own process, by its PID
        watch.wait(10)
        at_kill = int(json.loads(position.read_text())["last_id"])
        assert 0 < at_kill < total, "the forwarder was not killed midway"
        done = subprocess.run([*command, "--once"], env=env, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr
        received = _wait_for(rsyslog, total, timeout=60)
    finally:
        rsyslog.stop()
    expected = (state / "ingest.log").read_text(encoding="utf-8").splitlines()
    assert len(expected) == total
    assert set(received) == set(expected)  # nothing lost
    twice = len(received) - total
    assert 0 <= twice <= BATCH, twice  # at least once, across the crash only
