"""A real master API for contract tests: `decnet api serve` on a free loopback port, a real
bus server beside it, tokens made with the real use case. Stopped by PID afterwards."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from decnet_lib.master.api_tokens import create_token
from decnet_lib.master.token_cache import TOKEN_CACHE_SECONDS
from decnet_lib.settings import get_settings
from decnet_lib.settings_model import Settings

REPO = Path(__file__).resolve().parents[2]
DECNET = [sys.executable, "-m", "decnet_lib.cli"]
ALLOWED_ORIGIN = "http://dashboard.example:5173"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a process this test started, by its PID."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()


def _wait(check, process: subprocess.Popen[bytes], what: str, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        if process.poll() is not None:
            err = process.stderr.read().decode() if process.stderr else ""
            raise AssertionError(f"{what}: the process exited ({process.returncode}): {err}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not up within {timeout} s")
        time.sleep(0.05)


def _answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return False
        return True


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/v1/health", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


@dataclass
class Api:
    """A running API: its URL, settings (same database and bus), and tokens by role."""

    url: str
    settings: Settings
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    tokens: dict[str, str] = field(default_factory=dict)

    def headers(self, role: str = "operator", **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}", **extra}

    def client(self, role: str | None = "operator") -> httpx.Client:
        headers = self.headers(role) if role else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30.0)


@contextmanager
def running_api(tmp: Path, db_url: str, **settings: str) -> Iterator[Api]:
    """A bus server and `decnet api serve` on `db_url`; extra DECNET_API_* settings by name."""
    bus_socket = tmp / "run" / "bus.sock"
    env = {**os.environ, "DECNET_STATE_DIR": str(tmp / "state"), "DECNET_DB_URL": db_url,
           "DECNET_BUS": "unix", "DECNET_BUS_SOCKET": str(bus_socket),
           "DECNET_LOCK_DIR": str(tmp / "locks"),
           "DECNET_API_CORS_ORIGINS": ALLOWED_ORIGIN,
           "DECNET_API_STREAM_KEEPALIVE_SECONDS": "0.3",
           **{f"DECNET_{key.upper()}": value for key, value in settings.items()}}
    bus = subprocess.Popen([*DECNET, "bus", "serve", "--socket", str(bus_socket),
                            "--health-interval", "0"], cwd=REPO, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    server: subprocess.Popen[bytes] | None = None
    try:
        _wait(lambda: _answers(bus_socket), bus, "bus server")
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen([*DECNET, "api", "serve", "--host", "127.0.0.1", "--port",
                                   str(port), "--log-level", "warning"], cwd=REPO, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _wait(lambda: _healthy(url), server, "API server")
        config = get_settings(state_dir=tmp / "state", db_url=db_url, bus_socket=bus_socket,
                              lock_dir=tmp / "locks")
        api = Api(url, config, env, server)
        for role in ("viewer", "operator"):
            api.tokens[role] = create_token(config, f"test-{role}", role)
        yield api
    finally:
        if server is not None:
            stop(server)
        stop(bus)


def refused_within(client: httpx.Client, path: str, since: float) -> bool:
    """Does `path` answer 401 within TOKEN_CACHE_SECONDS of `since` (plus 2 s of slack for a
    loaded machine)?"""
    while time.monotonic() - since < TOKEN_CACHE_SECONDS + 2:
        answer = client.get(path)
        if answer.status_code == 401:
            return answer.json()["error"]["code"] == "UNAUTHORIZED"
        assert answer.status_code == 200, answer.text
        time.sleep(0.2)
    return False
