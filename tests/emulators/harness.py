"""Run one emulator and read its events: as a local process on loopback (fast, for protocol
work) or, later, inside a deployed decky. Tests talk to `target.host` / `target.port(n)` and
read `target.events()`, so the same test serves both."""

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
        deadline = time.monotonic() + wait
        while True:
            parsed = [e for e in (parse_line(line) for line in list(self.lines)) if e]
            found = [e for e in parsed if kind is None or e.event == kind]
            if found or time.monotonic() >= deadline:
                return found
            time.sleep(0.05)


def local_emulator(service: str, ports: list[str], config: dict[str, Any] | None = None,
                   persona: dict[str, Any] | None = None) -> Iterator[LocalEmulator]:
    """Start an emulator on free loopback ports for `ports` ("22/tcp", "53/udp")."""
    mapping = {}
    for item in ports:
        proto = item.split("/")[1]
        mapping[item] = free_port(socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM)
    emulator = LocalEmulator(service, mapping, dict(config or {}), dict(persona or {}))
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


def nmap_service(host: str, port: int, udp: bool = False, timeout: int = 240) -> str:
    """`nmap -sV` on one port of one address of ours: the line of that port."""
    args = ["nmap", "-sV", "-Pn", "-n", "--version-intensity", "9", "-p", str(port), host]
    if udp:
        args.insert(1, "-sU")
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    for line in result.stdout.splitlines():
        if line.startswith(f"{port}/"):
            return line
    return result.stdout
