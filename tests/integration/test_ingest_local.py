"""The local target: a topology deployed on the master's own Docker, without an agent.

`decnet ingest` runs the collector for it in-process (journal under DECNET_STATE_DIR/local):
a connection to a decky's emulator reaches `decnet events --json` once, across `--once`
runs and a `--watch` process that is stopped and started again.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from decnet_lib.cli import main
from decnet_lib.images.build import build_images
from decnet_lib.logs.journal import EventJournal

pytest_plugins = ["docker_support"]


def maze(name: str, subnet: str) -> str:
    return f"""
name: {name}
lans:
  - {{name: dmz, subnet: {subnet}, dmz: true}}
deckies:
  - {{name: cache, services: [redis], lans: {{dmz: null}}}}
"""


def ping_redis(ip: str, within: float = 120.0) -> int:
    """Open a connection to the decky's redis and say PING; the local port used."""
    deadline = time.monotonic() + within
    while True:
        try:
            with socket.create_connection((ip, 6379), timeout=2) as sock:
                port = int(sock.getsockname()[1])
                sock.sendall(b"PING\r\n")
                sock.recv(64)
                return port
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_local_topology_events_are_ingested_once_across_restarts(
    docker_env: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    build_images(docker_env.client, services=["redis"])
    env = {"DECNET_STATE_DIR": str(tmp_path), "DECNET_BUS": "null",
           "DECNET_DB_URL": f"sqlite:///{tmp_path / 'db.sqlite'}"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    (subnet,) = docker_env.subnets(1)
    document = tmp_path / "maze.yml"
    document.write_text(maze("localing", str(subnet)))

    def decnet(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(args))
        out = capsys.readouterr()
        return code, out.out, out.err

    code, out, err = decnet("topology", "create", str(document), "--json")
    assert code == 0, err
    created = json.loads(out)
    docker_env.topology_ids.append(created["id"])
    code, _, err = decnet("topology", "deploy", "localing")
    assert code == 0, err
    code, out, _ = decnet("topology", "show", "localing", "--json")
    shown = json.loads(out)
    assert shown["status"] == "active", shown
    decky_ip = str(subnet.network_address + 2)
    host_ip = str(subnet.network_address + 1)

    def connects(port: int) -> list[dict[str, Any]]:
        """Ingest --once until the connection from `port` is stored; the stored events."""
        deadline = time.monotonic() + 30
        while True:
            code, _, err = decnet("ingest", "--once")
            assert code == 0, err
            code, out, _ = decnet("events", "--json", "--topology", "localing")
            found = json.loads(out)
            if any(e["src_port"] == port and e["event"] == "connect" for e in found):
                return found
            assert time.monotonic() < deadline, found
            time.sleep(0.5)

    first = ping_redis(decky_ip)
    found = connects(first)
    (event,) = [e for e in found if e["src_port"] == first and e["event"] == "connect"]
    assert event["decky"] == "cache" and event["service"] == "redis", event
    assert event["lan"] == "dmz" and event["src_ip"] == host_ip, event
    assert event["topology_id"] == created["id"]

    # a --watch process, stopped and started again, and --once beside it
    second = third = 0
    for round_ in range(2):
        watch = subprocess.Popen(
            [sys.executable, "-m", "decnet_lib.cli", "ingest", "--watch"],
            env={**{k: v for k, v in os.environ.items() if not k.startswith("DECNET_")},
                 **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            port = ping_redis(decky_ip)
            second, third = (port, third) if round_ == 0 else (second, port)
            deadline = time.monotonic() + 30
            while True:
                _, out, _ = decnet("events", "--json", "--topology", "localing")
                if any(e["src_port"] == port for e in json.loads(out)):
                    break
                assert watch.poll() is None, watch.stderr.read() if watch.stderr else ""
                assert time.monotonic() < deadline, "--watch did not ingest the connection"
                time.sleep(0.2)
        finally:
            watch.terminate()
            watch.wait(15)
        assert watch.returncode == 0, watch.stderr.read() if watch.stderr else ""
    found = connects(third)

    # every journalled event once, nothing twice: the journal and the master agree
    with EventJournal(tmp_path / "local" / "events.db") as journal:
        journalled = journal.last_seq()
    assert journalled == len(found), (journalled, found)
    keys = [(e["src_port"], e["event"], e["session"], e["ts"]) for e in found]
    assert len(set(keys)) == len(keys)
    for port in (first, second, third):
        assert [e["event"] for e in found if e["src_port"] == port].count("connect") == 1
    ids = [e["id"] for e in found]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)

    assert decnet("topology", "teardown", "localing")[0] == 0
