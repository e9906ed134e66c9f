"""Run one emulator and read its events: as a local process on loopback (LocalEmulator, fast,
for protocol work) or inside a really deployed decky (deploy_decky, DeployedEmulator). Tests
talk to `target.host` / `target.port(n)`, compare `src_ip` with `target.source` and read
`target.events()`, so the same test serves both (the `target` fixture of conftest.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from decnet_lib.logs.emulator_line import EmulatorEvent, parse_line

REPO = Path(__file__).resolve().parents[2]
EMULATORS = REPO / "images" / "emulators"


def require_tools(*tools: str, packages: str = "") -> None:
    """Skip when a real client the test drives is missing; under CI=true that is a failure
    (scripts/test.sh installs every client; `packages` names the Debian packages)."""
    import shutil

    import pytest

    missing = [tool for tool in tools if shutil.which(tool) is None]
    if not missing:
        return
    message = f"{', '.join(missing)} not installed" + (f" (apt-get install {packages})"
                                                       if packages else "")
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


SETTLE = 0.4  # seconds without a new line: the burst of events being written is complete


def settled_events(read: Any, kind: str | None, wait: float,
                   poll: float) -> list[EmulatorEvent]:
    """Events of `kind` in the lines `read()` gives. With `wait`, up to that long for the
    first one, then until no new line came for SETTLE s (events of one exchange are written
    a moment apart: a test counting them must not read half of them)."""
    deadline = time.monotonic() + wait
    seen, quiet_since = -1, time.monotonic()
    while True:
        lines = read()
        found = [e for e in (parse_line(line) for line in lines) if e
                 and (kind is None or e.event == kind)]
        now = time.monotonic()
        if len(lines) != seen:
            seen, quiet_since = len(lines), now
        if wait <= 0 or (found and now - quiet_since >= SETTLE) or now >= deadline + SETTLE:
            return found
        time.sleep(poll)


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env_value(value: Any) -> str:
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return json.dumps(value)


@dataclass
class LocalEmulator:
    """`python -m decnet_emu` on 127.0.0.1, each catalog port mapped to a free port."""

    service: str
    ports: dict[str, int]  # "22/tcp" -> local port
    config: dict[str, Any] = field(default_factory=dict)
    persona: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)  # further variables (DECNET_MAX_CHILDREN)
    host: str = "127.0.0.1"
    source: str = "127.0.0.1"  # the client address the emulator sees (events' src_ip)
    process: subprocess.Popen[bytes] | None = None
    lines: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)

    def port(self, number: int, proto: str = "tcp") -> int:
        return self.ports[f"{number}/{proto}"]

    def start(self) -> None:
        import json

        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(EMULATORS), str(REPO)]),
               "DECNET_SERVICE": self.service, "DECNET_DECKY": "decky01",
               "DECNET_PORTS": " ".join(f"{local}/{key.split('/')[1]}"
                                        for key, local in self.ports.items()),
               "DECNET_LISTEN": "127.0.0.1",
               "DECNET_PERSONA": json.dumps({"hostname": "decky01", **self.persona})}
        for key, value in self.config.items():
            env[f"DECNET_CFG_{key.upper()}"] = _env_value(value)
        env.update(self.env)
        self.process = subprocess.Popen([sys.executable, "-m", "decnet_emu"], env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        threading.Thread(target=self._pump, args=(self.process.stdout, self.lines),
                         daemon=True).start()
        threading.Thread(target=self._pump, args=(self.process.stderr, self.stderr),
                         daemon=True).start()
        deadline = time.monotonic() + 15
        want = len(self.ports)
        while time.monotonic() < deadline:
            if sum("listening on" in line for line in self.stderr) >= want:
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"emulator {self.service} did not start: {''.join(self.stderr)}")

    @staticmethod
    def _pump(stream: Any, into: list[str]) -> None:
        for raw in iter(stream.readline, b""):
            into.append(raw.decode("utf-8", "replace"))

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def events(self, kind: str | None = None, wait: float = 0.0) -> list[EmulatorEvent]:
        """Parsed events so far (waiting up to `wait` s for at least one of `kind`)."""
        return settled_events(lambda: list(self.lines), kind, wait, 0.05)


def local_emulator(service: str, ports: list[str], config: dict[str, Any] | None = None,
                   persona: dict[str, Any] | None = None,
                   env: dict[str, str] | None = None) -> Iterator[LocalEmulator]:
    """Start an emulator on free loopback ports for `ports` ("22/tcp", "53/udp")."""
    mapping = {}
    for item in ports:
        proto = item.split("/")[1]
        mapping[item] = free_port(socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM)
    emulator = LocalEmulator(service, mapping, dict(config or {}), dict(persona or {}),
                             dict(env or {}))
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


def nmap_service(host: str, port: int, udp: bool = False, timeout: int = 240,
                 intensity: int = 9) -> str:
    """`nmap -sV` on one port of one address of ours: the line of that port."""
    args = ["nmap", "-sV", "-Pn", "-n", "--version-intensity", str(intensity), "-p", str(port),
            host]
    if udp:
        args.insert(1, "-sU")
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    for line in result.stdout.splitlines():
        if line.startswith(f"{port}/"):
            return line
    return result.stdout


# -- Deployed mode: one real topology, deployed the way `decnet topology deploy` does -------

DEPLOYED_DECKY = "decky01"
WINDOWS_ARCHETYPE = {"mssql": "windows-server", "ldap": "domain-controller",
                     "dns": "domain-controller"}


@dataclass
class DeployedEmulator:
    """One service container of a deployed decky, with LocalEmulator's interface.

    `host` is the decky's DMZ address (reachable from the host), ports are the catalog's,
    `source` the host's address on the DMZ bridge (what the decky sees as the client), and
    events come from the container's stdout (`docker logs`) from line `offset` on, so that a
    test sees only what happened since its view was taken (`view()`).
    """

    service: str
    host: str
    source: str
    container: str
    client: Any
    offset: int = 0

    def port(self, number: int, proto: str = "tcp") -> int:
        return number

    def view(self) -> DeployedEmulator:
        """The same container, seeing only the events written from now on."""
        return DeployedEmulator(self.service, self.host, self.source, self.container,
                                self.client, len(self.all_lines()))

    def all_lines(self) -> list[str]:
        raw = self.client.api.logs(self.container, stdout=True, stderr=False)
        return raw.decode("utf-8", "replace").splitlines()

    @property
    def lines(self) -> list[str]:
        return self.all_lines()[self.offset:]

    @property
    def stderr(self) -> list[str]:
        raw = self.client.api.logs(self.container, stdout=False, stderr=True)
        return raw.decode("utf-8", "replace").splitlines(keepends=True)

    def events(self, kind: str | None = None, wait: float = 0.0) -> list[EmulatorEvent]:
        """Parsed events so far (waiting up to `wait` s for at least one of `kind`)."""
        return settled_events(lambda: list(self.lines), kind, wait, 0.2)

    def wait_ready(self, ports: list[str], within: float = 60.0) -> None:
        """Until the service says it listens and every TCP port accepts a connection."""
        deadline = time.monotonic() + within
        while not any("listening on" in line for line in self.stderr):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.service} did not start: {''.join(self.stderr)}")
            time.sleep(0.2)
        for item in ports:
            number, _, proto = item.partition("/")
            while proto != "udp":
                try:
                    socket.create_connection((self.host, int(number)), timeout=2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.3)


@dataclass
class DeployedDecky:
    """The deployed topology: its decky's address, the host's address on the DMZ bridge
    (the source the decky sees) and one DeployedEmulator per service."""

    name: str
    topology_id: str
    decky: str
    host: str
    host_bridge_ip: str
    services: list[str]
    client: Any

    def emulator(self, service: str) -> DeployedEmulator:
        from decnet_lib.deploy.naming import service_container_name

        return DeployedEmulator(service, self.host, self.host_bridge_ip, service_container_name(
            self.topology_id, self.decky, service), self.client)


def _deployed_document(name: str, subnet: Any, decky: dict[str, Any],
                       emulation: str) -> dict[str, Any]:
    return {"name": name, "emulation": emulation,
            "lans": [{"name": "dmz", "subnet": str(subnet), "dmz": True}],
            "deckies": [{**decky, "lans": {"dmz": str(subnet.network_address + 10)}}]}


def _bridge_gateway(client: Any, topology_id: str, subnet: Any) -> str:
    """The host's address on the topology's DMZ bridge (its IPAM gateway)."""
    from decnet_lib.deploy import labels

    for network in client.networks.list(filters=labels.topology_filter(topology_id)):
        for pool in (network.attrs.get("IPAM") or {}).get("Config") or []:
            if pool.get("Subnet") == str(subnet) and pool.get("Gateway"):
                return str(pool["Gateway"])
    return str(subnet.network_address + 1)


def decky_for_persona(service: str, persona: dict[str, Any]) -> dict[str, Any]:
    """The document fields that give a deployed decky the module's PERSONA: its name (the
    hostname), domain, and a Windows archetype when the persona is Windows: the service's in
    WINDOWS_ARCHETYPE, else windows-server for a "Windows Server ..." os_name, else
    windows-workstation."""
    import re

    decky: dict[str, Any] = {"name": DEPLOYED_DECKY}
    hostname = str(persona.get("hostname", "")).lower()
    if re.fullmatch(r"[a-z][a-z0-9-]{0,30}", hostname):
        decky["name"] = hostname
    if persona.get("domain"):
        decky["domain"] = str(persona["domain"])
    if persona.get("os_family") == "windows":
        server = str(persona.get("os_name", "")).startswith("Windows Server")
        decky["archetype"] = WINDOWS_ARCHETYPE.get(
            service, "windows-server" if server else "windows-workstation")
    return decky


def deploy_decky(services: list[str] | None = None, emulation: str = "full",
                 config: dict[str, Any] | None = None,
                 decky: dict[str, Any] | None = None) -> Iterator[DeployedDecky]:
    """Deploy one DMZ decky carrying `services` (default: every catalog service) with
    `config` as its service_config and `decky` as further document fields (name, domain,
    archetype), through the library's own path: stored in a throw-away SQLite database, then
    `master.lifecycle.deploy` to the local Docker Engine. Yield it, tear it down in a finally
    (also by label, should the teardown fail). Topology `emu-<random>` on a free /24.
    Builds the images it needs first (a no-op when warm). Skips without Docker, except under
    CI=true where that fails.
    """
    import tempfile
    import uuid

    from docker_support import connect_docker, free_subnets, remove_labelled

    from decnet_lib.catalog import SERVICES
    from decnet_lib.db import create_topology, init_db, make_engine, new_session
    from decnet_lib.deploy import labels
    from decnet_lib.images.build import build_images
    from decnet_lib.master import lifecycle
    from decnet_lib.topology.resolve import resolve
    from decnet_lib.validation.validate import validate_data

    names = list(services or SERVICES)
    fields = {"name": DEPLOYED_DECKY, **(decky or {}), "services": names}
    if config:
        fields["service_config"] = dict(config)
    client = connect_docker()
    (subnet,) = free_subnets(client, 1)
    name = f"emu-{uuid.uuid4().hex[:8]}"
    doc, issues = validate_data(_deployed_document(name, subnet, fields, emulation))
    errors = [issue for issue in issues if issue.severity == "error"]
    assert doc is not None and not errors, errors
    resolved = resolve(doc)
    carried = list(resolved.deckies[0].services)
    build_images(client, services=carried, modes=(emulation,))
    folder = tempfile.TemporaryDirectory(prefix="decnet-emu-")
    engine = make_engine(f"sqlite:///{folder.name}/master.db")
    try:
        init_db(engine)
        with new_session(engine) as session:
            create_topology(session, resolved)
            session.commit()
        result = lifecycle.deploy(engine, name)
        assert result.status == "active", result.message
        yield DeployedDecky(name, resolved.id, str(fields["name"]),
                            str(subnet.network_address + 10),
                            _bridge_gateway(client, resolved.id, subnet),
                            carried, client)
    finally:
        try:
            lifecycle.teardown(engine, name)
        finally:
            remove_labelled(client, labels.topology_filter(resolved.id))
            engine.dispose()
            folder.cleanup()


# -- The `target` fixtures: both modes of one service configuration ------------------------


def target_params() -> list[Any]:
    """pytest params of a target fixture: "local", "deployed" (marked slow), as selected by
    DECNET_EMU_TARGETS (default both)."""
    import pytest

    chosen = [m.strip() for m in os.environ.get("DECNET_EMU_TARGETS", "local,deployed")
              .split(",") if m.strip()]
    return [pytest.param(mode, marks=[pytest.mark.slow] if mode == "deployed" else [], id=mode)
            for mode in ("local", "deployed") if mode in chosen]


def deployed_emulator(service: str, ports: list[str], config: dict[str, Any] | None = None,
                      persona: dict[str, Any] | None = None) -> Iterator[DeployedEmulator]:
    """`service` with `config` in one deployed decky looking like `persona`, ready."""
    for decky in deploy_decky([service], "full", {service: config} if config else None,
                              decky_for_persona(service, persona or {})):
        emulator = decky.emulator(service)
        emulator.wait_ready(ports)
        yield emulator


def target_fixtures(name: str, service: str, ports: list[str],
                    config: dict[str, Any] | None = None,
                    persona: dict[str, Any] | None = None) -> tuple[Any, Any]:
    """A second `target` for a module: fixture `name` runs each test taking it locally and
    against its own deployed decky (fixture `<name>_deployed`, one per module), for a
    configuration or persona other than the module's (e.g. a Windows one). Assign both
    returned fixtures to module attributes so that pytest finds them."""
    import pytest

    deployed_name = f"{name}_deployed"

    @pytest.fixture(scope="module", name=deployed_name)
    def deployed() -> Iterator[DeployedEmulator]:
        yield from deployed_emulator(service, ports, config, persona)

    @pytest.fixture(params=target_params(), name=name)
    def target(request: Any) -> Iterator[LocalEmulator | DeployedEmulator]:
        if request.param == "deployed":
            yield request.getfixturevalue(deployed_name).view()
            return
        yield from local_emulator(service, ports, config, persona)

    return deployed, target
