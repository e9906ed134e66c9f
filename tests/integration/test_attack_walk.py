"""Issue 15.6: an attacker's walk through a maze, found on the master, counted across restarts.

Everything is real and driven as an operator would: `decnet topology create|deploy` put the
two-LAN maze of `maze_walk` (bridge `gw` with an ssh foothold, `ws` on the office LAN behind
it) on a real `decnet agent serve` process (mutual TLS); a probe container on the DMZ logs in
with OpenSSH's `ssh` (a wrong password first), types commands and reaches `ws`'s redis from
the foothold. `decnet ingest --once`, `decnet events --json` and `decnet attackers --json` run
as subprocesses on a SQLite master. In the middle the agent process is stopped (the attacker
goes on meanwhile; ingest reports the agent unreachable) and started again, and an `ingest
--watch` is killed (SIGKILL) right after it stored something; at the end every event line
the agent logged is in the master's table and its ingest log exactly once.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from agent_process import Agent, decnet_env
from maze_walk import (
    PROBE_IMAGE,
    WALK_PASSWORD,
    agent_lines,
    attacker_script,
    listening,
    maze,
    ssh_script,
)
from sqlalchemy import select

from decnet_lib.db import AttackEvent, make_engine, session_scope
from decnet_lib.deploy.naming import network_name
from decnet_lib.images.build import build_images
from decnet_lib.pki import init_ca, issue

if TYPE_CHECKING:
    from docker.models.containers import Container
    from docker_support import DockerEnv

pytest_plugins = ["docker_support"]
pytestmark = pytest.mark.slow
CLI_TIMEOUT = 300


class Master:
    """The master side: a SQLite database, and the `decnet` command run against it."""

    def __init__(self, root: Path, pki: Path) -> None:
        self.db = root / "master.db"
        self.ingest_log = root / "ingest.log"
        self.env = decnet_env(state_dir=root / "state", db_url=f"sqlite:///{self.db}",
                              bus="null", master_cert=pki / "master.crt",
                              master_key=pki / "master.key", ca=pki / "ca.crt",
                              ingest_log_file=self.ingest_log)

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "decnet_lib.cli", *args]

    def run(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(self.command(*args), env=self.env, capture_output=True,
                              text=True, timeout=CLI_TIMEOUT)
        if ok:
            assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").stdout)

    def stored(self) -> list[AttackEvent]:
        engine = make_engine(f"sqlite:///{self.db}")
        try:
            with session_scope(engine) as session:
                return list(session.scalars(select(AttackEvent).order_by(AttackEvent.id)))
        finally:
            engine.dispose()


def settled(log_file: Path, quiet: float = 3.0, timeout: float = 60.0) -> int:
    """The agent log's line count once it has not grown for `quiet` seconds."""
    deadline = time.monotonic() + timeout
    count, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        now = len(log_file.read_text().splitlines()) if log_file.exists() else 0
        if now != count:
            count, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return count
        time.sleep(0.3)
    raise AssertionError(f"the agent log kept growing ({count} lines)")


def attack(probe: Container, script: str) -> str:
    _, output = probe.exec_run(["/bin/sh", "-c", script])
    return output.decode(errors="replace")


def test_an_attack_walk_is_ingested_once_and_told_by_events_and_attackers(
    docker_env: DockerEnv, tmp_path: Path,
) -> None:
    env, client = docker_env, docker_env.client
    build_images(client, services=["ssh", "redis"], modes=("full",))
    agent_state = tmp_path / "agent"
    pki = agent_state / "pki"
    init_ca(pki)
    issue(pki, "agent", "server")
    issue(pki, "master", "client")
    agent = Agent(agent_state)
    agent_log = agent_state / "agent-decky.log"
    master = Master(tmp_path / "master", pki)
    watcher: subprocess.Popen[bytes] | None = None
    probe: Container | None = None
    agent.start()
    try:
        dmz, office = env.subnets(2)
        document = tmp_path / "walk.yml"
        document.write_text(maze("walk", str(dmz), str(office)))
        master.run("topology", "create", str(document))
        shown = master.json("topology", "show", "walk")
        env.topology_ids.append(shown["id"])
        lans = {d["name"]: d["lans"] for d in shown["deckies"]}
        gw_ip, gw_office_ip, ws_ip = lans["gw"]["dmz"], lans["gw"]["office"], lans["ws"]["office"]
        master.run("topology", "deploy", "walk", "--agent", agent.url)

        probe_ip = str(dmz.network_address + 250)
        network = client.networks.get(network_name(shown["id"], "dmz"))
        probe = client.containers.create(
            PROBE_IMAGE, ["sleep", "infinity"], entrypoint=[], network=network.name,
            labels={**env.owner_labels, "decnet.managed": "true"})
        network.disconnect(probe)
        network.connect(probe, ipv4_address=probe_ip)
        probe.start()
        assert listening(gw_ip, 22)

        # 1. refused, then in: a shell on gw that reaches ws's redis on the office LAN
        output = attack(probe, attacker_script(gw_ip, ws_ip))
        assert "@@@1=255" in output and "@@@2=0" in output, output
        assert "-NOAUTH Authentication required." in output, output
        agent_lines(agent_log, 'cmd="ip addr"', f'src_ip="{gw_office_ip}"')
        ingested = master.run("ingest", "--once")
        assert "from 1 agents" in ingested.stderr, ingested.stderr
        first = len(master.stored())
        assert first > 0

        # 2. the agent process stops; the attacker goes on; nothing is read meanwhile
        agent.stop()
        output = attack(probe, ssh_script(gw_ip, [(WALK_PASSWORD, "id")]))
        assert "@@@1=0" in output and "uid=" in output, output
        away = master.run("ingest", "--once", ok=False)
        assert away.returncode == 1 and "error[AGENT_UNREACHABLE]" in away.stderr, away.stderr
        assert len(master.stored()) == first
        agent.start()
        # its collector starts with its first apply (never at boot): the live topology is
        # re-applied in place, and the collector resumes from its saved read cursors
        master.run("topology", "deploy", "walk")
        agent_lines(agent_log, 'cmd="id"')
        master.run("ingest", "--once")
        second = len(master.stored())
        assert second > first

        # 3. an ingest service dies (SIGKILL) right after it stored something
        watcher = subprocess.Popen(master.command("ingest", "--watch"), env=master.env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        output = attack(probe, ssh_script(gw_ip, [(WALK_PASSWORD, "uname -a")]))
        assert "@@@1=0" in output, output
        deadline = time.monotonic() + 60
        while len(master.stored()) == second:
            assert time.monotonic() < deadline, "the watching ingest stored nothing"
            time.sleep(0.1)
        watcher.send_signal(signal.SIGKILL)
        watcher.wait(10)
        watcher = None
        agent_lines(agent_log, 'cmd="uname -a"')

        # counted: every line the agent logged is on the master once, in its log file once
        lines = settled(agent_log)
        master.run("ingest", "--once")
        rows = master.stored()
        assert len(rows) == lines, (len(rows), lines)
        assert sorted(row.seq for row in rows) == list(range(1, lines + 1))
        assert len({(row.source, row.epoch) for row in rows}) == 1
        logged = re.findall(r'\[decnet@32473 id="(\d+)"', master.ingest_log.read_text())
        assert logged == [str(row.id) for row in rows]

        # what `decnet events` tells
        events = master.json("events", "--topology", "walk")
        assert len(events) == lines
        ours = master.json("events", "--attacker", probe_ip)
        logins = [(e["decky"], e["lan"], e["service"], e["fields"].get("password"),
                   e["fields"].get("success")) for e in ours if e["event"] == "login"]
        assert ("gw", "dmz", "ssh", "wrong-guess", "false") in logins, logins
        assert logins.count(("gw", "dmz", "ssh", WALK_PASSWORD, "true")) == 3, logins
        typed = [e["fields"].get("cmd") for e in ours if e["event"] == "command"]
        for command in ("ip addr", f"nc -w 3 {ws_ip} 6379", "id", "uname -a"):
            assert command in typed, typed
        inner = [e for e in events if e["src_ip"] == gw_office_ip]
        assert {(e["decky"], e["lan"], e["service"], e["dst_ip"]) for e in inner} == {
            ("ws", "office", "redis", ws_ip)}, inner
        assert "connect" in {e["event"] for e in inner}

        # what `decnet attackers` tells: the pivot is the probe's, one LAN deep
        attackers = master.json("attackers", "--topology", "walk")
        assert gw_office_ip not in {a["src_ip"] for a in attackers}, attackers
        (walker,) = [a for a in attackers if a["src_ip"] == probe_ip]
        assert walker["deckies"] == ["gw", "ws"] and walker["lans"] == ["dmz", "office"]
        assert walker["depth"] == 1 and walker["topologies"] == ["walk"]
        assert [(h["decky"], h["lan"], h["via"]) for h in walker["path"]] == [
            ("gw", "dmz", None), ("ws", "office", "gw")]
        assert walker["pivots"] == len(inner)
        assert walker["events"] == len(ours) + len(inner)
        credentials = {(c["service"], c["username"], c["password"], c["success"]): c["attempts"]
                       for c in walker["credentials"]}
        assert credentials[("ssh", "svc", "wrong-guess", False)] == 1, credentials
        assert credentials[("ssh", "svc", WALK_PASSWORD, True)] == 3, credentials
        assert [c for c in walker["commands"] if c in ("ip addr", "id", "uname -a")] == [
            "ip addr", "id", "uname -a"]
        table = master.run("attackers", "--topology", "walk").stdout
        assert probe_ip in table and "gw@dmz > ws@office" in table, table

        probe.remove(force=True)  # it holds an address on the DMZ network
        probe = None
        master.run("topology", "teardown", "walk")
        assert env.labelled_count(shown["id"]) == (0, 0)
    finally:
        if probe is not None:  # before the maze's networks go (the fixture's cleanup too)
            probe.remove(force=True)
        if watcher is not None:
            watcher.kill()
            watcher.wait(10)
        if agent.process is None:
            agent.start()
        master.run("topology", "teardown", "walk", ok=False)
        agent.stop()
