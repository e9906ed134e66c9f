"""redis: the real redis-cli and the redis client library against the emulator."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from tests.emulators.harness import LocalEmulator, local_emulator, nmap_service, require_tools


@pytest.fixture
def redis_emu() -> Iterator[LocalEmulator]:
    yield from local_emulator("redis", ["6379/tcp"])


def test_redis_cli_auth_is_recorded(redis_emu: LocalEmulator) -> None:
    require_tools("redis-cli", packages="redis-tools")
    port = redis_emu.port(6379)
    out = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port), "PING"],
                         capture_output=True, text=True, timeout=10)
    assert out.stdout.strip() == "PONG"
    out = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port), "-a", "s3cret",
                          "--no-auth-warning", "GET", "k"], capture_output=True, text=True,
                         timeout=10)
    assert "WRONGPASS" in out.stdout + out.stderr
    (login,) = redis_emu.events("login", wait=3)
    assert login.fields["password"] == "s3cret"
    assert login.src_ip == "127.0.0.1"


def test_nmap_names_redis(redis_emu: LocalEmulator) -> None:
    require_tools("nmap", packages="nmap")
    assert "redis" in nmap_service("127.0.0.1", redis_emu.port(6379)).lower()
