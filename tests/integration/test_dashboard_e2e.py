"""The dashboard in a real browser (Debian's chromium, Playwright) against a real API and a
real deployed maze on the real Docker Engine (issue 16.5).

A 2-LAN maze of light deckies is deployed through a real agent with the CLI; `decnet api
serve`, a bus server, `decnet reconcile --watch` and `decnet ingest --watch` run beside it.
The browser logs in through the form, sees the maze, drags an archetype onto the office LAN
(`POST .../deckies`: one `add_decky` mutation on a live maze) until its container runs, adds
ftp to a decky in its panel (PATCH, an `update_decky` mutation) until that container runs,
then sees an attack made with `curl` light the decky up within 2 s. Screenshots of the maze
go to docs/ with DECNET_UPDATE_SCREENSHOTS=1. Torn down in a finally.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from api_server import REPO, Api, running_api, stop
from browser_support import require_browser, run_node_script
from maze_walk import PROBE_IMAGE, WALK_PASSWORD, attacker_script, listening
from maze_walk import maze as walk_maze

if TYPE_CHECKING:
    from docker_support import DockerEnv

pytest_plugins = ["docker_support"]
pytestmark = pytest.mark.slow
DECNET = [sys.executable, "-m", "decnet_lib.cli"]
DOCS = REPO / "docs"
UPDATE_DOCS = "DECNET_UPDATE_SCREENSHOTS"  # =1: write the screenshots into docs/


def maze(name: str, dmz: str, office: str, gw_ip: str) -> str:
    return f"""
name: {name}
emulation: light
lans:
  - {{name: dmz, subnet: {dmz}, dmz: true}}
  - {{name: office, subnet: {office}}}
deckies:
  - {{name: gw, services: [http, ssh], lans: {{dmz: {gw_ip}, office: null}}, forwards_l3: true}}
  - {{name: ws, services: [redis], lans: {{office: null}}}}
"""


def cli(api: Api, *args: str, timeout: float = 300.0) -> str:
    done = subprocess.run([*DECNET, *args], cwd=REPO, env=api.env, capture_output=True,
                          text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"decnet {' '.join(args)}: {done.stderr}"
    return done.stdout


@contextmanager
def background(api: Api, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    """A long-running `decnet` command (stopped by PID afterwards)."""
    process = subprocess.Popen([*DECNET, *args], cwd=REPO, env=api.env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield process
    finally:
        stop(process)


def test_dashboard_live_maze(docker_env: DockerEnv, agent_url: str, tmp_path: Path) -> None:
    require_browser()
    from decnet_lib.images.build import build_images

    build_images(docker_env.client)
    name = f"dash-{uuid.uuid4().hex[:8]}"
    dmz, office = docker_env.subnets(2)
    gw_ip = docker_env.host(dmz, 10)
    document = tmp_path / "maze.yml"
    document.write_text(maze(name, str(dmz), str(office), gw_ip))
    shots = DOCS if os.environ.get(UPDATE_DOCS) == "1" else tmp_path
    with running_api(tmp_path, f"sqlite:///{tmp_path / 'master.db'}") as api:
        cli(api, "topology", "create", str(document))
        shown = cli(api, "topology", "show", name, "--json")
        topology_id = json.loads(shown)["id"]
        docker_env.topology_ids.append(topology_id)
        try:
            cli(api, "topology", "deploy", name, "--agent", agent_url)
            with background(api, "reconcile", "--watch"), background(api, "ingest", "--watch"):
                result = run_node_script("dashboard.e2e.mjs", {
                    "url": api.url,
                    "token": api.tokens["operator"],
                    "topology": name,
                    "archetype": "printer",
                    "docker_ps": ["docker", "ps", "--filter",
                                  f"label=decnet.topology.id={topology_id}"],
                    "attack": ["curl", "-s", "-m", "5", "-o", "/dev/null",
                               f"http://{gw_ip}/admin/login.php"],
                    "attack_decky": "gw",
                    "screenshots": {"maze": str(shots / "dashboard.png"),
                                    "attack": str(shots / "dashboard-attack.png")},
                }, tmp_path / "e2e.json")
            mutations = json.loads(cli(api, "topology", "mutations", name, "--json"))
        finally:
            cli(api, "topology", "teardown", name)
    print("dashboard e2e:", result)
    assert result["status"] == "active"
    assert result["added"] == "printer-1"
    assert result["mutation"] == "add_decky applied"  # its op from the enqueued event
    assert result["services_changed"] is True
    # the live maze changed through the queue: one mutation per edit, each applied
    assert [(m["op"], m["state"]) for m in mutations] == [("add_decky", "applied"),
                                                          ("update_decky", "applied")]
    assert result["attack_seen_ms"] <= 2000
    assert docker_env.labelled_count(topology_id) == (0, 0)


def test_dashboard_draws_a_walk_through_a_foothold(
    docker_env: DockerEnv, agent_url: str, tmp_path: Path,
) -> None:
    """A real attacker walks the foothold maze (OpenSSH `ssh` into `gw`, then `ws`'s redis from
    there); the dashboard draws the walk gw -> ws across the DMZ and office LANs and lists the
    refused and accepted logins and the commands typed."""
    require_browser()
    from decnet_lib.deploy.naming import network_name
    from decnet_lib.images.build import build_images

    build_images(docker_env.client, services=["ssh", "redis"], modes=("full",))
    name = f"walk-{uuid.uuid4().hex[:8]}"
    dmz, office = docker_env.subnets(2)
    document = tmp_path / "walk.yml"
    document.write_text(walk_maze(name, str(dmz), str(office)))
    shots = DOCS if os.environ.get(UPDATE_DOCS) == "1" else tmp_path
    probe = None
    with running_api(tmp_path, f"sqlite:///{tmp_path / 'master.db'}") as api:
        cli(api, "topology", "create", str(document))
        shown = json.loads(cli(api, "topology", "show", name, "--json"))
        docker_env.topology_ids.append(shown["id"])
        lans = {d["name"]: d["lans"] for d in shown["deckies"]}
        try:
            cli(api, "topology", "deploy", name, "--agent", agent_url)
            network = docker_env.client.networks.get(network_name(shown["id"], "dmz"))
            probe_ip = docker_env.host(dmz, 250)
            probe = docker_env.client.containers.create(
                PROBE_IMAGE, ["sleep", "infinity"], entrypoint=[], network=network.name,
                labels={**docker_env.owner_labels, "decnet.managed": "true"})
            network.disconnect(probe)
            network.connect(probe, ipv4_address=probe_ip)
            probe.start()
            assert listening(lans["gw"]["dmz"], 22)
            _, output = probe.exec_run(
                ["/bin/sh", "-c", attacker_script(lans["gw"]["dmz"], lans["ws"]["office"])])
            assert b"@@@2=0" in output, output
            walker = wait_for_walker(api, name, probe_ip)
            assert walker["deckies"] == ["gw", "ws"], walker
            result = run_node_script("walk.e2e.mjs", {
                "url": api.url, "token": api.tokens["viewer"], "topology": name,
                "attacker": probe_ip, "screenshot": str(shots / "dashboard-walk.png"),
            }, tmp_path / "walk.json")
        finally:
            if probe is not None:  # it holds an address on the DMZ network
                probe.remove(force=True)
            cli(api, "topology", "teardown", name)
    print("dashboard walk:", result)
    assert result["path"] == "gw → ws"
    assert result["hops"] == ["dmz", "office"]
    assert result["touched"] == ["gw", "ws"]
    assert result["on_path"] == ["dmz", "office"]
    assert f"ssh: svc / {WALK_PASSWORD} ✔" in result["credentials"]
    assert "ssh: svc / wrong-guess ✘" in result["credentials"]
    assert any("ip addr" in command for command in result["commands"])


def wait_for_walker(api: Api, name: str, src_ip: str, timeout: float = 30.0) -> dict:
    """The attacker record of `src_ip` once its walk reached a second decky (ingest runs)."""
    deadline = time.monotonic() + timeout
    walker: dict = {}
    while time.monotonic() < deadline:
        cli(api, "ingest", "--once")
        records = json.loads(cli(api, "attackers", "--topology", name, "--json"))
        walker = next((a for a in records if a["src_ip"] == src_ip), {})
        if len(walker.get("deckies", [])) >= 2:
            return walker
        time.sleep(0.5)
    return walker
