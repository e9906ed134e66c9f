"""Ingest from a real agent process (mutual TLS) into the master, exactly once.

The events enter the agent's journal through the collector's own pipeline (the same code
that handles a container's stdout line), in real files; a real `decnet agent serve` answers
`GET /events`; the master stores them on SQLite and MariaDB, writes the ingest log and
publishes on the bus. Restarts of the agent and of the master lose and duplicate nothing.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agent_process import Agent, free_port
from helpers import sample_resolved, store_live
from sqlalchemy import Engine, select, update

from decnet_lib import events as bus_events
from decnet_lib.cli import main
from decnet_lib.db import (
    AttackEvent,
    IngestCursor,
    Topology,
    init_db,
    make_engine,
    session_scope,
)
from decnet_lib.db.attack_events import store_page
from decnet_lib.logs.emulator_line import EmulatorEvent
from decnet_lib.logs.pipeline import LinePipeline
from decnet_lib.logs.rfc5424 import EventSource
from decnet_lib.master.ingest import Ingester, agent_clients
from decnet_lib.pki import init_ca, issue
from decnet_lib.settings import Settings

ATTACKER = "203.0.113.7"


class Deckies:
    """Events entering the agent's journal and log file through the collector's pipeline."""

    def __init__(self, state: Path, topology_id: str) -> None:
        self.settings = Settings(state_dir=state, mode="agent", bus="null")
        self.topology_id = topology_id
        self.sent = 0

    def emit(self, count: int, decky: str = "web01", service: str = "http",
             src_ip: str = ATTACKER) -> None:
        pipeline = LinePipeline(self.settings, None, hostname="agent1")  # type: ignore[arg-type]
        pipeline.open()
        try:
            source = EventSource("c0ffee" * 4, "acme", self.topology_id, decky, service)
            for _ in range(count):
                self.sent += 1
                event = EmulatorEvent(
                    ts=time.time(), service=service, event="login", src_ip=src_ip,
                    src_port=40000 + self.sent,
                    fields={"proto": "tcp", "dport": "80", "decky": decky,
                            "session": f"s{self.sent}", "user": "root",
                            "password": f"pw{self.sent}", "success": "false"})
                pipeline.emit(event, source)
        finally:
            pipeline.close()


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    pki = tmp_path / "agent" / "pki"
    init_ca(pki)
    issue(pki, "agent", "server")
    issue(pki, "master", "client")
    return pki


@pytest.fixture
def agent(tmp_path: Path, pki: Path) -> Iterator[Agent]:
    agent = Agent(tmp_path / "agent")
    agent.start()
    try:
        yield agent
    finally:
        agent.stop()


@pytest.fixture
def master(tmp_path: Path, db_url: str, pki: Path) -> Settings:
    return Settings(state_dir=tmp_path / "master", db_url=db_url, bus="null",
                    master_cert=pki / "master.crt", master_key=pki / "master.key",
                    ca=pki / "ca.crt")


@pytest.fixture
def engine(master: Settings) -> Iterator[Engine]:
    engine = make_engine(master.db_url, sqlite_immediate=True)
    init_db(engine)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def published() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """What ingest publishes on `attack.>` (the in-process collector's `system.log` left out)."""
    seen: list[tuple[str, dict[str, Any]]] = []

    def keep(topic: str, payload: dict[str, Any]) -> None:
        if topic.startswith("attack."):
            seen.append((topic, payload))

    bus_events.set_publisher(keep)
    try:
        yield seen
    finally:
        bus_events.set_publisher(None)


def _live_topology(engine: Engine, agent_url: str) -> str:
    with session_scope(engine) as session:
        row = store_live(session, sample_resolved())
        row.agent = agent_url
        return row.id


def _stored(engine: Engine) -> list[AttackEvent]:
    with session_scope(engine) as session:
        return list(session.scalars(select(AttackEvent).order_by(AttackEvent.id)))


def _log_ids(master: Settings) -> list[int]:
    assert master.ingest_log_file is not None
    text = master.ingest_log_file.read_text()
    return [int(m) for m in re.findall(r'\[decnet@32473 id="(\d+)"', text)]


def _once(master: Settings, engine: Engine) -> Any:
    ingester = Ingester(master, engine, page=7)  # small pages: several per drain
    try:
        return ingester.once()
    finally:
        ingester.close()


def test_exactly_once_across_agent_and_master_restarts(
    agent: Agent, master: Settings, engine: Engine, published: list[Any],
) -> None:
    topology_id = _live_topology(engine, agent.url)
    deckies = Deckies(agent.state, topology_id)
    deckies.emit(30)

    report = _once(master, engine)
    assert report.ok and report.stored == 30
    rows = _stored(engine)
    assert [row.seq for row in rows] == list(range(1, 31))
    first = rows[0]
    assert (first.decky, first.lan, first.service, first.event, first.src_ip) == (
        "web01", "dmz", "http", "login", ATTACKER)
    assert first.dst_ip is not None and first.dst_ip.startswith("172.20.0.")
    assert first.session == "s1" and first.fields["password"] == "pw1"
    assert _log_ids(master) == [row.id for row in rows]
    assert [topic for topic, _ in published] == [f"attack.{topology_id}.web01.http"] * 30
    assert published[0][1]["src_ip"] == ATTACKER and published[0][1]["ts"].endswith("Z")

    assert _once(master, engine).stored == 0  # nothing new: nothing twice

    agent.stop()  # the agent goes away; its deckies keep recording
    deckies.emit(10)
    away = _once(master, engine)
    assert not away.ok and away.stored == 0
    assert "cannot reach the agent" in (away.sources[0].error or "")
    agent.start()
    deckies.emit(5, decky="db01", service="mysql")
    report = _once(master, engine)  # a new master process: a new Ingester, same database
    assert report.ok and report.stored == 15
    rows = _stored(engine)
    assert [row.seq for row in rows] == list(range(1, 46))
    assert len({(row.source, row.epoch, row.seq) for row in rows}) == 45
    assert rows[-1].lan == "vault"
    assert _log_ids(master) == [row.id for row in rows]
    assert len(published) == 45


def test_a_commit_without_its_log_lines_is_caught_up(
    agent: Agent, master: Settings, engine: Engine,
) -> None:
    """A master that died between the commit and the log write: the next run writes them."""
    topology_id = _live_topology(engine, agent.url)
    Deckies(agent.state, topology_id).emit(4)
    answer = agent_clients(master)(agent.url).events(after=0, limit=100)
    with session_scope(engine) as session:
        store_page(session, agent.url, answer["epoch"], answer["events"])
    assert not master.ingest_log_file.exists()  # type: ignore[union-attr]
    report = _once(master, engine)
    assert report.caught_up == 4 and report.stored == 0
    assert _log_ids(master) == [row.id for row in _stored(engine)]


def test_a_new_agent_journal_starts_over_by_its_epoch(
    agent: Agent, master: Settings, engine: Engine,
) -> None:
    topology_id = _live_topology(engine, agent.url)
    deckies = Deckies(agent.state, topology_id)
    deckies.emit(6)
    assert _once(master, engine).stored == 6
    agent.stop()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{agent.state / 'agent-events.db'}{suffix}").unlink(missing_ok=True)
    agent.start()
    deckies.emit(2)  # numbered 1 and 2 again, in a journal with a new epoch
    assert _once(master, engine).stored == 2
    rows = _stored(engine)
    assert len(rows) == 8 and len({row.epoch for row in rows}) == 2
    with session_scope(engine) as session:
        cursor = session.get(IngestCursor, agent.url)
        assert cursor is not None and cursor.seq == 2 and cursor.epoch == rows[-1].epoch


def test_watch_long_polls_and_backs_off_from_an_unreachable_agent(
    agent: Agent, master: Settings, engine: Engine, published: list[Any],
) -> None:
    topology_id = _live_topology(engine, agent.url)
    dead = f"https://127.0.0.1:{free_port()}"
    with session_scope(engine) as session:  # a second live topology on an agent that is down
        from helpers import resolve_yaml
        other = store_live(session, resolve_yaml(
            "name: other\nlans: [{name: dmz, subnet: 172.29.0.0/24, dmz: true}]\n"
            "deckies: [{name: solo, services: [ssh], lans: {dmz: null}}]\n"))
        other.agent = dead
    calls: dict[str, int] = {}
    real = agent_clients(master)

    def counting(url: str) -> Any:
        calls[url] = calls.get(url, 0) + 1
        return real(url)

    ingester = Ingester(master, engine, counting)
    stop = threading.Event()
    thread = threading.Thread(target=ingester.watch, args=(stop, 5.0, 0.5), daemon=True)
    thread.start()
    try:
        time.sleep(1.0)  # the watch is long-polling the live agent now
        started = time.monotonic()
        Deckies(agent.state, topology_id).emit(3)
        while len(_stored(engine)) < 3 and time.monotonic() - started < 10:
            time.sleep(0.05)
        latency = time.monotonic() - started
        assert len(_stored(engine)) == 3
        assert latency < 2.0, latency  # answered by the long poll, not a later round
        time.sleep(3.5)
        attempts = calls.get(dead, 0)
        with session_scope(engine) as session:  # the dead agent's topology is gone
            session.execute(update(Topology).where(Topology.agent == dead)
                            .values(status="torn_down"))
        deadline = time.monotonic() + 10
        while any(t.name == f"ingest-{dead}" for t in threading.enumerate()):
            assert time.monotonic() < deadline, "the follower of a dropped agent kept going"
            time.sleep(0.1)
    finally:
        stop.set()
        thread.join(15)
        ingester.close()
    assert not thread.is_alive()
    # 1 s, 2 s, 4 s ... between attempts: at most 3 in ~5 s, not a tight loop
    assert 1 <= attempts <= 3, calls
    assert len(published) == 3


def test_cli_events_json_and_ingest_once(
    agent: Agent, master: Settings, engine: Engine, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    topology_id = _live_topology(engine, agent.url)
    deckies = Deckies(agent.state, topology_id)
    deckies.emit(3)
    deckies.emit(2, src_ip="198.51.100.9")
    for name, value in {"DECNET_STATE_DIR": master.state_dir, "DECNET_DB_URL": master.db_url,
                        "DECNET_BUS": "null", "DECNET_MASTER_CERT": master.master_cert,
                        "DECNET_MASTER_KEY": master.master_key, "DECNET_CA": master.ca}.items():
        monkeypatch.setenv(name, str(value))
    monkeypatch.delenv("DECNET_MODE", raising=False)
    capsys.readouterr()
    assert main(["ingest", "--once"]) == 0
    assert "ingested 5 events from 1 agents" in capsys.readouterr().err
    assert main(["events", "--json", "--attacker", "198.51.100.9"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert [e["src_ip"] for e in found] == ["198.51.100.9"] * 2
    assert set(found[0]) == {"id", "ts", "topology", "topology_id", "decky", "lan", "service",
                             "event", "src_ip", "src_port", "dst_ip", "dst_port", "proto",
                             "session", "fields"}
    assert (found[0]["topology"], found[0]["lan"], found[0]["dst_port"]) == ("acme", "dmz", 80)
    assert main(["events", "--json", "--topology", "acme", "--since", "10m"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 5
    assert main(["events", "--json", "--since", "2999-01-01T00:00:00Z"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["events", "--since", "yesterday"]) == 2
    assert "error[BAD_SINCE]" in capsys.readouterr().err


def test_two_ingesters_at_once_store_and_log_every_event_once(
    agent: Agent, master: Settings, engine: Engine, published: list[Any],
) -> None:
    """The service and a hand-run `--once` together: each event once in the table, the log
    file and on the bus."""
    topology_id = _live_topology(engine, agent.url)
    Deckies(agent.state, topology_id).emit(120)
    engines = [make_engine(master.db_url, sqlite_immediate=True) for _ in range(2)]
    ingesters = [Ingester(master, e, page=9) for e in engines]
    reports: list[Any] = []
    start = threading.Barrier(2)

    def run(ingester: Ingester) -> None:
        start.wait()
        reports.append(ingester.once())

    threads = [threading.Thread(target=run, args=(i,)) for i in ingesters]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        for ingester, other in zip(ingesters, engines, strict=True):
            ingester.close()
            other.dispose()
    assert all(report.ok for report in reports)
    assert sum(report.stored for report in reports) == 120
    rows = _stored(engine)
    assert sorted(row.seq for row in rows) == list(range(1, 121))
    assert _log_ids(master) == [row.id for row in rows]
    assert sorted(payload["id"] for _, payload in published) == [row.id for row in rows]


def test_the_events_route_long_polls_pages_and_needs_a_client_certificate(
    agent: Agent, pki: Path, tmp_path: Path,
) -> None:
    import ssl

    import httpx

    master = Settings(state_dir=tmp_path / "m", master_cert=pki / "master.crt",
                      master_key=pki / "master.key", ca=pki / "ca.crt")
    client = agent_clients(master)(agent.url)
    empty = client.events(after=0, wait=1.0)
    assert empty["events"] == [] and empty["last"] == 0 and len(empty["epoch"]) == 16
    started = time.monotonic()
    assert client.events(after=0, wait=1.0)["events"] == []
    assert 0.9 <= time.monotonic() - started < 5  # it waited, then answered empty

    Deckies(agent.state, "t" * 32).emit(5)
    page = client.events(after=1, limit=2)
    assert [e["seq"] for e in page["events"]] == [2, 3] and page["last"] == 3
    assert page["events"][0]["src_ip"] == ATTACKER
    assert [e["seq"] for e in client.events(after=3, epoch="not-this-one")["events"]] == [
        1, 2, 3, 4, 5]  # another epoch: from the start

    with pytest.raises(httpx.HTTPError):  # no client certificate: no answer
        httpx.get(f"{agent.url}/events", timeout=5,
                  verify=ssl.create_default_context(cafile=str(pki / "ca.crt")))


def test_events_follow_prints_new_events_as_json_lines(
    agent: Agent, master: Settings, engine: Engine,
) -> None:
    topology_id = _live_topology(engine, agent.url)
    deckies = Deckies(agent.state, topology_id)
    deckies.emit(2)
    assert _once(master, engine).stored == 2
    env = {k: v for k, v in os.environ.items() if not k.startswith("DECNET_")}
    env.update(DECNET_STATE_DIR=str(master.state_dir), DECNET_DB_URL=master.db_url,
               DECNET_BUS="null")
    follower = subprocess.Popen(
        [sys.executable, "-m", "decnet_lib.cli", "events", "--follow", "--json"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(60, follower.kill)  # a silent follower fails, never hangs
    watchdog.start()
    try:
        assert follower.stdout is not None
        first = [json.loads(follower.stdout.readline()) for _ in range(2)]
        deckies.emit(1, decky="db01", service="mysql")
        assert _once(master, engine).stored == 1
        later = json.loads(follower.stdout.readline())  # blocks until the follower prints
    finally:
        watchdog.cancel()
        follower.terminate()
        follower.wait(10)
    assert [e["src_port"] for e in first] == [40001, 40002]
    assert (later["decky"], later["service"], later["lan"]) == ("db01", "mysql", "vault")
