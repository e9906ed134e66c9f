"""The agent against the real Docker Engine, over real mutual TLS on 127.0.0.1.

Skipped when Docker does not answer (a failure under CI=true). Uses the offline images
(`decnet/base`, `decnet/svc-*`), building them with `build_images` when they are missing.
Every topology gets a unique id and /24s from 10.214.0.0/16 that no Docker network or host
route uses; every object is removed by label in a finally. The SIGKILL test runs the agent as
a subprocess (`python -m agent serve`) and kills only that process.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import pytest
from docker import DockerClient
from docker.errors import ImageNotFound

from agent.app import create_app
from agent.background import BackgroundServer
from agent.server import TlsFiles
from decnet_lib.catalog import SERVICES
from decnet_lib.deploy import labels as L
from decnet_lib.deploy.naming import BASE_IMAGE
from decnet_lib.issues import has_errors
from decnet_lib.master.agent_client import AgentClient, AgentError
from decnet_lib.pki import init_ca, issue
from decnet_lib.settings import get_settings
from decnet_lib.topology.loader import decode_document
from decnet_lib.topology.resolve import resolve
from decnet_lib.topology.resolved import ResolvedTopology
from decnet_lib.validation.validate import validate_data

if TYPE_CHECKING:
    from docker_support import DockerEnv

pytest_plugins = ["docker_support"]
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
POOL = ipaddress.IPv4Network("10.214.0.0/16")
SERVICES_USED = ("ssh", "http")
MISSING_IMAGE = "decnet-test/agent-missing:never"
_taken: set[ipaddress.IPv4Network] = set()


# -- images, subnets, topologies -----------------------------------------------------------
@pytest.fixture(scope="module")
def images(docker_client: DockerClient) -> None:
    """The base and service images, built offline when any is missing."""
    wanted = [BASE_IMAGE, *(SERVICES[name].image for name in SERVICES_USED)]
    missing = []
    for tag in wanted:
        try:
            docker_client.images.get(tag)
        except ImageNotFound:
            missing.append(tag)
    if not missing:
        return
    from decnet_lib.errors import DecnetError
    from decnet_lib.images.build import build_images

    try:
        build_images(docker_client, services=list(SERVICES_USED))
    except DecnetError as exc:
        message = f"cannot build the images the agent deploys: {exc.message}"
        if os.environ.get("CI", "").strip().lower() == "true":
            pytest.fail(message)
        pytest.skip(message)


def _used_networks(client: DockerClient) -> list[ipaddress.IPv4Network]:
    used = []
    for item in client.api.networks():
        for cfg in (item.get("IPAM") or {}).get("Config") or []:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                net = ipaddress.ip_network(cfg["Subnet"], strict=False)
                if isinstance(net, ipaddress.IPv4Network):
                    used.append(net)
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        routes = subprocess.run(["ip", "-4", "route", "show", "table", "all"],
                                capture_output=True, text=True, timeout=5).stdout
        for line in routes.splitlines():
            words = line.split()
            if words and words[0] in ("local", "broadcast", "unreachable", "blackhole"):
                words = words[1:]
            if words and words[0] != "default":
                with contextlib.suppress(ValueError):
                    used.append(ipaddress.IPv4Network(words[0], strict=False))
    return used


def free_subnets(client: DockerClient, count: int) -> list[ipaddress.IPv4Network]:
    """/24s of 10.214.0.0/16 that overlap no Docker network and no host route."""
    used = _used_networks(client)
    candidates = list(POOL.subnets(new_prefix=24))
    random.shuffle(candidates)
    chosen = [net for net in candidates
              if net not in _taken and not any(net.overlaps(u) for u in used)][:count]
    if len(chosen) < count:
        pytest.fail("no free /24 left in 10.214.0.0/16")
    _taken.update(chosen)
    return chosen


def ip(net: ipaddress.IPv4Network, index: int) -> str:
    return str(net.network_address + index)


def resolved_from(text: str, env: DockerEnv, images: dict[str, str] | None = None
                  ) -> ResolvedTopology:
    doc, issues = validate_data(decode_document(text.encode()))
    assert doc is not None and not has_errors(issues), issues
    topology = resolve(doc, uuid.uuid4().hex)
    env.topology_ids.append(topology.id)  # the fixture's cleanup removes it by label
    if images:
        for decky in topology.deckies:
            decky.images = {svc: images[svc] for svc in decky.services if svc in images}
    return topology


def two_lan_maze(env: DockerEnv, name: str, images: dict[str, str] | None = None
                 ) -> ResolvedTopology:
    """DMZ + one internal LAN, a forwarding bridge decky, 3 deckies, 5 containers."""
    dmz, office = free_subnets(env.client, 2)
    return resolved_from(f"""
name: {name}
lans:
  - {{name: dmz, subnet: {dmz}, dmz: true}}
  - {{name: office, subnet: {office}}}
deckies:
  - {{name: gw, services: [ssh], lans: {{dmz: {ip(dmz, 10)}, office: {ip(office, 10)}}},
     forwards_l3: true}}
  - {{name: web, services: [http], lans: {{dmz: {ip(dmz, 20)}}}}}
  - {{name: files, services: [], lans: {{office: {ip(office, 30)}}}}}
""", env, images)


def big_maze(env: DockerEnv, name: str, deckies: int = 20) -> ResolvedTopology:
    """`deckies` deckies over a DMZ and an internal LAN, one service each."""
    dmz, inner = free_subnets(env.client, 2)
    lines = [f"name: {name}", "lans:", f"  - {{name: dmz, subnet: {dmz}, dmz: true}}",
             f"  - {{name: inner, subnet: {inner}}}", "deckies:",
             "  - {name: gw, services: [ssh], lans: {dmz: null, inner: null}, "
             "forwards_l3: true}"]
    for index in range(1, deckies):
        lan = "dmz" if index % 2 else "inner"
        service = SERVICES_USED[index % len(SERVICES_USED)]
        lines.append(f"  - {{name: d{index:02d}, services: [{service}], lans: {{{lan}: null}}}}")
    return resolved_from("\n".join(lines) + "\n", env)


def labelled(env: DockerEnv, topology_id: str) -> tuple[int, int]:
    """(containers, networks) labelled with this topology id."""
    return env.labelled_count(topology_id)


# -- the agent -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("pki")
    init_ca(directory)
    issue(directory, "agent", "server")
    issue(directory, "master", "client")
    return directory


def client_for(url: str, pki: Path, timeout: float = 300) -> AgentClient:
    return AgentClient(url, cert=pki / "master.crt", key=pki / "master.key", ca=pki / "ca.crt",
                       timeout=timeout)


@pytest.fixture
def agent(
    docker_env: DockerEnv, images: None, pki: Path, tmp_path: Path
) -> Iterator[tuple[AgentClient, list[str], Path]]:
    """The real agent app (real Deployer) under uvicorn with mutual TLS, in a thread."""
    state = tmp_path / "state"
    app = create_app(get_settings(state_dir=state, mode="agent"))
    started: list[str] = []
    app.state.hooks.on_first_successful_apply.append(lambda: started.append("collector"))
    tls = TlsFiles(pki / "agent.crt", pki / "agent.key", pki / "ca.crt")
    with BackgroundServer(app, tls=tls) as server:
        yield client_for(server.url, pki), started, state / "agent"


def test_apply_pins_and_reports_what_docker_has(
    agent: tuple[AgentClient, list[str], Path], docker_env: DockerEnv
) -> None:
    client, started, state = agent
    topology = two_lan_maze(docker_env, "agentpin")
    answer = client.apply(topology)
    assert answer["status"] == "active", answer
    assert answer["ok"] and answer["errors"] == [] and answer["crashed"] == []
    assert answer["plan"]["containers"]["create"] == 5 and answer["plan"]["networks"]["create"] == 2
    assert started == ["collector"]
    assert labelled(docker_env, topology.id) == (5, 2)

    report = client.topology()
    assert (report["id"], report["name"], report["status"]) == (topology.id, "agentpin", "active")
    assert report["hash"] == answer["hash"] and report["last_error"] is None
    docker = report["docker"]
    assert docker["topology_id"] == topology.id and docker["matches"] is True
    assert len(docker["containers"]) == 5 and docker["all_running"]
    assert {n["lan"] for n in docker["networks"]} == {"dmz", "office"}
    pinned = orjson.loads((state / "pinned.json").read_bytes())
    assert pinned["topology"]["id"] == topology.id and pinned["status"] == "active"

    again = client.apply(topology)  # idempotent: nothing to change, still active
    assert again["status"] == "active" and again["plan"]["changed"] is False
    assert started == ["collector"]


def test_a_different_topology_replaces_its_predecessor(
    agent: tuple[AgentClient, list[str], Path], docker_env: DockerEnv
) -> None:
    client, _, _ = agent
    first = two_lan_maze(docker_env, "agentfirst")
    second = two_lan_maze(docker_env, "agentsecond")
    assert client.apply(first)["status"] == "active"
    assert labelled(docker_env, first.id) == (5, 2)

    answer = client.apply(second)  # never a 409: the predecessor is torn down first
    assert answer["status"] == "active", answer
    assert [p["topology_id"] for p in answer["predecessors"]] == [first.id]
    assert labelled(docker_env, first.id) == (0, 0)
    assert labelled(docker_env, second.id) == (5, 2)
    report = client.topology()
    assert report["id"] == second.id and report["docker"]["matches"] is True
    assert client.topology(topology_id=first.id)["docker"]["containers"] == []


def test_failed_apply_keeps_the_topology_for_teardown(
    agent: tuple[AgentClient, list[str], Path], docker_env: DockerEnv
) -> None:
    client, started, state = agent
    topology = two_lan_maze(docker_env, "agentfail", images={"http": MISSING_IMAGE})
    answer = client.apply(topology)
    assert answer["status"] == "failed" and not answer["ok"]
    assert any("no such image" in e["message"].lower() for e in answer["errors"]), answer
    assert started == []  # not a successful apply
    assert labelled(docker_env, topology.id)[0] >= 1  # the rest was deployed

    report = client.topology(full=True)
    assert report["id"] == topology.id and report["status"] == "failed"
    last = report["last_error"]
    assert last["topology_id"] == topology.id and "no such image" in last["error"].lower()
    kept = last["topology"]  # the resolved topology, for a later teardown
    assert kept["id"] == topology.id and [lan["name"] for lan in kept["lans"]] == ["dmz",
                                                                                  "office"]
    assert kept["deckies"][1]["images"] == {"http": MISSING_IMAGE}
    on_disk = orjson.loads((state / "last_error.json").read_bytes())
    assert on_disk["topology"] == kept

    gone = client.teardown()
    assert gone["ok"] and gone["status"] == "torn_down", gone
    assert labelled(docker_env, topology.id) == (0, 0)
    report = client.topology()
    assert report["id"] is None and report["last_error"] is None and report["docker"] is None
    assert not (state / "pinned.json").exists() and not (state / "last_error.json").exists()


# -- SIGKILL mid-apply ---------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def agent_process(
    pki: Path, state_dir: Path, log: Path
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`python -m agent serve` with mutual TLS; stopped (by its PID) on exit."""
    port = _free_port()
    env = {**os.environ, "DECNET_STATE_DIR": str(state_dir), "DECNET_MODE": "agent"}
    command = [sys.executable, "-m", "agent", "serve", "--host", "127.0.0.1", "--port",
               str(port), "--cert", str(pki / "agent.crt"), "--key", str(pki / "agent.key"),
               "--ca", str(pki / "ca.crt"), "--log-level", "warning"]
    with open(log, "ab") as out:
        proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=out)
    url = f"https://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                client_for(url, pki, timeout=5).health()
                break
            except AgentError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the agent did not start: {log.read_text()[-2000:]}")
                time.sleep(0.1)
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def test_sigkill_mid_apply_then_restart_converges(
    docker_env: DockerEnv, images: None, pki: Path, tmp_path: Path
) -> None:
    state, log = tmp_path / "state", tmp_path / "agent.log"
    topology = big_maze(docker_env, "agentkill", deckies=20)
    expected = 20 + 20  # a base and one service per decky
    outcome: dict[str, Any] = {}

    with agent_process(pki, state, log) as (proc, url):
        def push() -> None:
            try:
                outcome["answer"] = client_for(url, pki).apply(topology)
            except AgentError as exc:
                outcome["error"] = exc

        pusher = threading.Thread(target=push, daemon=True)
        pusher.start()
        deadline = time.monotonic() + 60
        while labelled(docker_env, topology.id)[0] < 6:  # Docker objects are being made
            assert time.monotonic() < deadline and pusher.is_alive(), outcome
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        pusher.join(30)
    assert "error" in outcome and outcome["error"].status is None, outcome  # the call broke
    partial = labelled(docker_env, topology.id)
    assert partial[0] < expected, partial  # killed mid-apply
    pinned = orjson.loads((state / "agent" / "pinned.json").read_bytes())
    assert pinned["topology"]["id"] == topology.id and pinned["status"] == "deploying"

    with agent_process(pki, state, log) as (_, url):
        client = client_for(url, pki)
        report = client.topology()  # the breadcrumb survives the restart
        assert report["id"] == topology.id and report["status"] == "deploying"
        answer = client.apply(topology)
        assert answer["status"] == "active", (answer, partial)
        report = client.topology()
        docker = report["docker"]
        assert report["status"] == "active" and docker["matches"] is True
        assert len(docker["containers"]) == expected and docker["all_running"]
        assert labelled(docker_env, topology.id) == (expected, 2)
        assert client.teardown()["ok"]
    assert labelled(docker_env, topology.id) == (0, 0)
    assert docker_env.client.api.containers(all=True, filters={
        "label": [f"{L.TOPOLOGY_ID}={topology.id}"]}) == []
