"""redis: the real redis-cli and the redis client library against the emulator."""

from __future__ import annotations

import subprocess

from tests.emulators.harness import LocalEmulator, nmap_service, require_tools

SERVICE = "redis"
PORTS = ["6379/tcp"]


def test_redis_cli_auth_is_recorded(target: LocalEmulator) -> None:
    require_tools("redis-cli", packages="redis-tools")
    port = target.port(6379)
    out = subprocess.run(["redis-cli", "-h", target.host, "-p", str(port), "PING"],
                         capture_output=True, text=True, timeout=10)
    assert out.stdout.strip() == "PONG"
    out = subprocess.run(["redis-cli", "-h", target.host, "-p", str(port), "-a", "s3cret",
                          "--no-auth-warning", "GET", "k"], capture_output=True, text=True,
                         timeout=10)
    assert "WRONGPASS" in out.stdout + out.stderr
    (login,) = target.events("login", wait=3)
    assert login.fields["password"] == "s3cret"
    assert login.src_ip == target.source


def test_nmap_names_redis(target: LocalEmulator) -> None:
    require_tools("nmap", packages="nmap")
    assert "redis" in nmap_service(target.host, target.port(6379)).lower()
