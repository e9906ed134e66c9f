"""A real `decnet agent serve` process (mutual TLS) that a test stops and starts again."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def decnet_env(**values: object) -> dict[str, str]:
    """This process's environment without any DECNET_* variable, plus `values`
    (DECNET_<NAME upper-cased>)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DECNET_")}
    env.update({f"DECNET_{name.upper()}": str(value) for name, value in values.items()})
    return env


class Agent:
    """`decnet agent serve` on a fixed port and state directory (its certificates in
    `state/pki`); `stop` and `start` again, as a restart of the service would."""

    def __init__(self, state: Path, **env: object) -> None:
        self.state = state
        self.port = free_port()
        self.env = decnet_env(state_dir=state, mode="agent", bus="null", **env)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "decnet_lib.cli", "agent", "serve", "--port",
             str(self.port), "--log-level", "warning"],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("the agent did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
            self.process = None
