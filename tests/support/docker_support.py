"""Shared fixtures for tests against the real Docker Engine.

Load with `pytest_plugins = ["docker_support"]` in a test module and reach the helpers
through the `docker_env` fixture (importing this module from a test module would stop
pytest from rewriting its asserts; import `DockerEnv` under TYPE_CHECKING only). Docker not
reachable: the test is skipped, except under CI=true where that is a failure. Each test gets a
`DockerEnv`: unique topology ids (so names and labels are unique), /24 subnets from
10.213.0.0/16 that overlap no Docker network and no host route, a tiny image, and a cleanup
in `finally` that removes, by label, everything the test created (even when it failed).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import random
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from docker import DockerClient
from docker.errors import APIError, DockerException, ImageNotFound, NotFound

from decnet_lib.deploy import labels as L
from decnet_lib.deploy.containment import Firewall
from decnet_lib.deploy.deployer import Deployer
from decnet_lib.issues import has_errors
from decnet_lib.topology.loader import decode_document
from decnet_lib.topology.resolve import resolve
from decnet_lib.topology.resolved import ResolvedTopology
from decnet_lib.validation.validate import validate_data

REAL_BASE = "decnet/base:latest"
STAND_IN = "decnet-test/base:latest"
CRASH_IMAGE = "decnet-test/crash:v2"
OWNER = "decnet-test.owner"  # label on objects a test creates by hand (not ours to deploy)
POOL = ipaddress.IPv4Network("10.213.0.0/16")
BUSYBOX = Path("/bin/busybox")
PROBES_AT_ONCE = 6  # each is a subshell, nc and echo: well under a decky's pids limit
SLEEP = ["/bin/busybox", "sleep", "2147483647"]
CRASH_SCRIPT = "echo 'emulator: starting' >&2; echo 'fatal: cannot bind port' >&2; exit 1"

_taken_subnets: set[ipaddress.IPv4Network] = set()  # handed out in this process


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def _unavailable(message: str) -> None:
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)


def connect_docker(wait: float = 5.0) -> DockerClient:
    """A Docker client; skips (fails under CI=true) when no engine answers within `wait`."""
    deadline = time.monotonic() + wait
    error = "no Docker Engine"
    while True:
        try:
            client = docker.from_env(timeout=120, max_pool_size=16)
            client.ping()
            return client
        except DockerException as exc:
            error = str(exc)
        if time.monotonic() >= deadline:
            _unavailable(f"Docker is not reachable: {error}")
        time.sleep(0.5)


def _build_busybox_image(client: DockerClient, tag: str, cmd: list[str]) -> str:
    if not BUSYBOX.exists():
        _unavailable("no /bin/busybox to build the test image (apt-get install busybox-static)")
    with tempfile.TemporaryDirectory() as ctx:
        shutil.copy2(BUSYBOX, Path(ctx) / "busybox")
        cmd_json = ", ".join(f'"{part}"' for part in cmd)
        (Path(ctx) / "Dockerfile").write_text(
            "FROM scratch\n"
            "COPY busybox /bin/busybox\n"
            'LABEL decnet.managed="true" decnet.test.image="true"\n'
            f"CMD [{cmd_json}]\n"
        )
        client.images.build(path=ctx, tag=tag, rm=True, forcerm=True)
    return tag


def ensure_image(client: DockerClient, tag: str, cmd: list[str]) -> str:
    """The tag, built from scratch + static busybox when it does not exist yet."""
    try:
        client.images.get(tag)
        return tag
    except ImageNotFound:
        return _build_busybox_image(client, tag, cmd)


def pick_image(client: DockerClient) -> str:
    """`decnet/base:latest` when it exists, else the stand-in (sleeps forever)."""
    try:
        client.images.get(REAL_BASE)
        return REAL_BASE
    except ImageNotFound:
        return ensure_image(client, STAND_IN, SLEEP)


def crash_image(client: DockerClient) -> str:
    """An image whose command prints a line and exits 1 at once."""
    return ensure_image(client, CRASH_IMAGE, ["/bin/busybox", "sh", "-c", CRASH_SCRIPT])


def _host_networks(client: DockerClient) -> list[ipaddress.IPv4Network]:
    nets: list[ipaddress.IPv4Network] = []
    for item in client.api.networks():
        for cfg in (item.get("IPAM") or {}).get("Config") or []:
            with contextlib.suppress(ValueError, KeyError):
                net = ipaddress.ip_network(cfg["Subnet"], strict=False)
                if isinstance(net, ipaddress.IPv4Network):
                    nets.append(net)
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(["ip", "-4", "route", "show", "table", "all"], capture_output=True,
                             text=True, timeout=5).stdout
        for line in out.splitlines():
            first = line.split()[0] if line.split() else ""
            if first in ("local", "broadcast", "unreachable", "blackhole"):
                first = line.split()[1]
            with contextlib.suppress(ValueError):
                if first != "default":
                    nets.append(ipaddress.IPv4Network(first, strict=False))
    return nets


def free_subnets(client: DockerClient, count: int) -> list[ipaddress.IPv4Network]:
    """`count` /24s from 10.213.0.0/16 overlapping no Docker network and no host route."""
    used = _host_networks(client)
    candidates = list(POOL.subnets(new_prefix=24))
    random.shuffle(candidates)
    chosen = []
    for net in candidates:
        if net in _taken_subnets or any(net.overlaps(other) for other in used):
            continue
        _taken_subnets.add(net)
        chosen.append(net)
        if len(chosen) == count:
            return chosen
    raise RuntimeError("no free /24 left in 10.213.0.0/16")


def host(net: ipaddress.IPv4Network, index: int) -> str:
    """The index-th address of a subnet, as text."""
    return str(net.network_address + index)


def remove_labelled(client: DockerClient, filters: dict[str, list[str]]) -> None:
    """Stop and remove containers, then networks, matching a label filter (best effort)."""
    api = client.api
    for item in api.containers(all=True, filters=filters):
        with contextlib.suppress(NotFound, DockerException):
            api.stop(item["Id"], timeout=2)  # see ops.remove_container: stop, then remove
        with contextlib.suppress(NotFound, DockerException):
            api.remove_container(item["Id"], force=True, v=True)
    for item in api.networks(filters=filters):
        with contextlib.suppress(NotFound, DockerException):
            api.remove_network(item["Id"])


def labelled_count(client: DockerClient, topology_id: str) -> tuple[int, int]:
    """(containers, networks) carrying this topology's labels."""
    filters = L.topology_filter(topology_id)
    return (len(client.api.containers(all=True, filters=filters)),
            len(client.api.networks(filters=filters)))


class DockerEnv:
    """Per-test Docker resources, all cleaned up by label."""

    def __init__(self, client: DockerClient) -> None:
        self.client = client
        self.token = uuid.uuid4().hex[:12]
        self.image = pick_image(client)
        self.topology_ids: list[str] = []
        self.links: list[str] = []
        self.image_ids: list[str] = []

    # -- identities and addresses ---------------------------------------------------------
    def topology_id(self) -> str:
        topology_id = uuid.uuid4().hex
        self.topology_ids.append(topology_id)
        return topology_id

    def subnets(self, count: int) -> list[ipaddress.IPv4Network]:
        return free_subnets(self.client, count)

    @property
    def owner_labels(self) -> dict[str, str]:
        """Labels for objects a test creates by hand (so the cleanup finds them)."""
        return {OWNER: self.token}

    # -- topologies -----------------------------------------------------------------------
    def resolved(
        self, text: str, topology_id: str | None = None, images: dict[str, str] | None = None,
        emulation: str | None = None,
    ) -> ResolvedTopology:
        """Validate and resolve a document; every service runs the test image by default
        (`images` per service; a catalog image follows `emulation`, light or full)."""
        doc, issues = validate_data(decode_document(text.encode()))
        assert doc is not None and not has_errors(issues), issues
        topology = resolve(doc, topology_id or self.topology_id())
        if topology.id not in self.topology_ids:
            self.topology_ids.append(topology.id)
        for decky in topology.deckies:
            decky.images = {svc: (images or {}).get(svc, self.image) for svc in decky.services}
            if emulation:
                decky.emulation = emulation
        return topology

    def deployer(self, **kwargs: Any) -> Deployer:
        kwargs.setdefault("settle", 0.5)
        return Deployer(self.client, base_image=self.image, **kwargs)

    # -- host links ------------------------------------------------------------------------
    def parent_link(self) -> str:
        """A fresh host interface to hang macvlan/ipvlan on, deleted at cleanup.

        A dummy interface when the kernel has the dummy driver, else one end of a veth
        pair (both ends stay in the host namespace; nothing is sent on it); skips when
        neither can be made.
        """
        name = f"dnt{self.token[:8]}"
        attempts = (["type", "dummy"], ["type", "veth", "peer", "name", f"{name}p"])
        errors = []
        for kind in attempts:
            proc = subprocess.run(["ip", "link", "add", name, *kind],
                                  capture_output=True, text=True)
            if proc.returncode == 0:
                self.links.append(name)
                subprocess.run(["ip", "link", "set", name, "up"], check=True)
                return name
            errors.append(f"{kind[1]}: {proc.stderr.strip()}")
        pytest.skip("cannot create a parent interface: " + "; ".join(errors))

    def require_link_type(self, kind: str, parent: str) -> None:
        """Skip unless the kernel can create a `kind` (macvlan, ipvlan) link on `parent`."""
        probe = f"dnq{self.token[:8]}"
        proc = subprocess.run(["ip", "link", "add", "link", parent, "name", probe, "type", kind],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.skip(f"this kernel cannot create {kind} links: {proc.stderr.strip()}")
        subprocess.run(["ip", "link", "del", probe], capture_output=True)

    # -- helpers for test modules (which must not import this plugin module themselves) ---
    host = staticmethod(host)

    @staticmethod
    def maze_yaml(name: str, subnets: list[ipaddress.IPv4Network]) -> str:
        return maze_yaml(name, subnets)

    @staticmethod
    def walled_yaml(name: str, dmz: str, office: str, accept: bool = False) -> str:
        return walled_yaml(name, dmz, office, accept)

    def container_ids(self, topology_id: str) -> dict[str, str]:
        return container_ids(self.client, topology_id)

    def reachable(self, container: str,
                  targets: list[tuple[str, int]]) -> list[tuple[str, int]]:
        """The targets a shell in this container (as its own user) opens a TCP connection
        to (nc, 2 s each, PROBES_AT_ONCE in parallel: a hardened decky's pids limit must not
        stop the probe itself): busybox's in the busybox images, the image's own `nc`
        (netcat-openbsd) and `sh` in the Debian-based full emulators."""
        nc = f"{BUSYBOX} nc -w 2" if self._has_busybox(container) else "nc -w 2"
        got: set[str] = set()
        for start in range(0, len(targets), PROBES_AT_ONCE):
            probes = " ".join(f"( echo probe | {nc} {ip} {port} >/dev/null 2>&1 && "
                              f"echo {ip}:{port} ) &"
                              for ip, port in targets[start:start + PROBES_AT_ONCE])
            code, out = self.shell(container, f"{probes} wait")
            assert code == 0, out  # the probe itself ran
            got.update(out.decode().split())
        return [(ip, port) for ip, port in targets if f"{ip}:{port}" in got]

    def _has_busybox(self, container: str) -> bool:
        ctr = self.client.containers.get(container)
        return bool(ctr.exec_run([str(BUSYBOX), "true"]).exit_code == 0)

    def shell(self, container: str, script: str) -> tuple[int, bytes]:
        """(exit code, output) of `script` in the container's shell, as its own user:
        busybox's sh in the busybox images, /bin/sh in the Debian-based full emulators."""
        sh = [str(BUSYBOX), "sh"] if self._has_busybox(container) else ["/bin/sh"]
        code, out = self.client.containers.get(container).exec_run([*sh, "-c", script])
        return int(code), bytes(out)

    def connects(self, container: str, ip: str, port: int) -> bool:
        """Can a shell in this container open ip:port?"""
        return self.reachable(container, [(ip, port)]) == [(ip, port)]

    def labelled_count(self, topology_id: str) -> tuple[int, int]:
        return labelled_count(self.client, topology_id)

    def crash_image(self) -> str:
        return crash_image(self.client)

    def build_image(self, tag: str, revision: int) -> str:
        """Build `tag` FROM the test image with a revision label (a new id per revision);
        removed at cleanup. Returns the image id."""
        with tempfile.TemporaryDirectory() as ctx:
            (Path(ctx) / "Dockerfile").write_text(
                f"FROM {self.image}\nLABEL {OWNER}={self.token} decnet.test.revision={revision}\n"
            )
            image, _ = self.client.images.build(path=ctx, tag=tag, rm=True, forcerm=True)
        self.image_ids.append(image.id)
        return image.id

    # -- cleanup --------------------------------------------------------------------------
    def cleanup(self) -> None:
        """Remove by label every object this test created, then its host links."""
        for topology_id in self.topology_ids:
            remove_labelled(self.client, L.topology_filter(topology_id))
            Firewall().remove(topology_id)  # its containment rules, found by their label
        remove_labelled(self.client, {"label": [f"{OWNER}={self.token}"]})
        for image_id in self.image_ids:  # after the containers that used them
            with contextlib.suppress(ImageNotFound, APIError):
                self.client.images.remove(image_id, force=True)
        for name in self.links:
            subprocess.run(["ip", "link", "del", name], capture_output=True)


@pytest.fixture(scope="session")
def docker_client() -> Iterator[DockerClient]:
    client = connect_docker()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def agent_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A real agent with mutual TLS and its log collector (the log is
    `tmp_path/agent-decky.log`); the master's env points at it. Yields its URL."""
    from agent.app import create_app
    from agent.background import BackgroundServer
    from agent.server import TlsFiles, attach_collector
    from decnet_lib.pki import init_ca, issue
    from decnet_lib.settings import get_settings

    pki = tmp_path / "pki"
    init_ca(pki)
    issue(pki, "agent", "server")
    issue(pki, "master", "client")
    monkeypatch.setenv("DECNET_STATE_DIR", str(tmp_path / "agent-state"))
    monkeypatch.setenv("DECNET_AGENT_LOG_FILE", str(tmp_path / "agent-decky.log"))
    monkeypatch.setenv("DECNET_INGEST_LOG_FILE", str(tmp_path / "ingest.log"))
    monkeypatch.setenv("DECNET_MASTER_CERT", str(pki / "master.crt"))
    monkeypatch.setenv("DECNET_MASTER_KEY", str(pki / "master.key"))
    monkeypatch.setenv("DECNET_CA", str(pki / "ca.crt"))
    settings = get_settings()
    app = create_app(settings)
    attach_collector(app, settings)
    tls = TlsFiles(pki / "agent.crt", pki / "agent.key", pki / "ca.crt")
    with BackgroundServer(app, tls=tls) as server:
        yield server.url


@pytest.fixture
def master(tmp_path: Path) -> Iterator[Any]:
    """A master database (SQLite in tmp_path), initialised; yields its engine."""
    from decnet_lib.db import init_db, make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'master.db'}", sqlite_immediate=True)
    init_db(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def docker_env(docker_client: DockerClient) -> Iterator[DockerEnv]:
    env = DockerEnv(docker_client)
    try:
        yield env
    finally:
        env.cleanup()


def maze_yaml(name: str, s: list[ipaddress.IPv4Network]) -> str:
    """A 3-LAN maze: DMZ + 2 internal LANs, two forwarding bridge deckies, 4 deckies."""
    return f"""
name: {name}
lans:
  - {{name: dmz, subnet: {s[0]}, dmz: true}}
  - {{name: office, subnet: {s[1]}}}
  - {{name: vault, subnet: {s[2]}}}
deckies:
  - name: gw
    services: [ssh]
    lans: {{dmz: {host(s[0], 10)}, office: {host(s[1], 10)}}}
    forwards_l3: true
  - name: vgw
    services: [ssh, smb]
    lans: {{office: {host(s[1], 11)}, vault: {host(s[2], 11)}}}
    forwards_l3: true
  - name: web
    services: [http]
    lans: {{dmz: {host(s[0], 20)}}}
  - name: db
    services: [mysql]
    lans: {{vault: {host(s[2], 30)}}}
    service_config: {{mysql: {{version: "8.0.36"}}}}
"""


def walled_yaml(name: str, dmz: str, office: str, accept: bool = False) -> str:
    """DMZ + office: a forwarding bridge decky `gw` (ssh; with `accept`, a foothold) and
    `ws`, which sits only on the internal office LAN."""
    config = ', service_config: {ssh: {accept: [{user: admin, password: "123456"}]}}'
    return f"""
name: {name}
lans:
  - {{name: dmz, subnet: {dmz}, dmz: true}}
  - {{name: office, subnet: {office}}}
deckies:
  - {{name: gw, services: [ssh], lans: {{dmz: null, office: null}}, forwards_l3: true
      {config if accept else ""}}}
  - {{name: ws, services: [ssh], lans: {{office: null}}}}
"""


def container_ids(client: DockerClient, topology_id: str) -> dict[str, str]:
    """Name -> id of every labelled container of the topology."""
    return {
        item["Names"][0].lstrip("/"): item["Id"]
        for item in client.api.containers(all=True, filters=L.topology_filter(topology_id))
    }
