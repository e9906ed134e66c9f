"""redis: the real redis-cli and the redis client library against the emulator."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.emulators.harness import LocalEmulator, local_emulator, nmap_service, require_tools

SERVICE = "redis"
PORTS = ["6379/tcp"]
CONFIG = {"password": "letmein"}


def _cli(target: LocalEmulator, *args: str) -> str:
    out = subprocess.run(["redis-cli", "-h", target.host, "-p", str(target.port(6379)),
                          "--no-auth-warning", *args], capture_output=True, text=True,
                         timeout=10)
    return (out.stdout + out.stderr).strip()


def _raw(target: LocalEmulator, data: bytes) -> bytes:
    with socket.create_connection((target.host, target.port(6379)), timeout=5) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(4096):
            chunks.append(chunk)
    return b"".join(chunks)


def test_redis_cli_auth_is_recorded(target: LocalEmulator) -> None:
    require_tools("redis-cli", packages="redis-tools")
    assert _cli(target, "PING") == "NOAUTH Authentication required."
    assert "WRONGPASS invalid username-password pair" in _cli(target, "-a", "s3cret", "GET", "k")
    assert "WRONGPASS" in _cli(target, "--user", "admin", "--pass", "hunter2", "INFO")
    logins = target.events("login", wait=3)
    assert [(e.fields["username"], e.fields["password"]) for e in logins] == [
        ("default", "s3cret"), ("admin", "hunter2")]
    assert all(e.fields["success"] == "false" and e.src_ip == target.source for e in logins)
    commands = [e.fields["command"] for e in target.events("command")]
    assert "PING" in commands and "GET k" in commands


def test_redis_cli_errors_are_worded_like_redis_7(target: LocalEmulator) -> None:
    require_tools("redis-cli", packages="redis-tools")
    assert _cli(target, "FOO", "bar") == \
        "ERR unknown command 'FOO', with args beginning with: 'bar'"
    assert _cli(target, "GET") == "ERR wrong number of arguments for 'get' command"
    assert _cli(target, "CONFIG", "NOPE") == "ERR unknown subcommand 'NOPE'. Try CONFIG HELP."
    assert _cli(target, "CONFIG", "GET", "dir") == "NOAUTH Authentication required."


def test_inline_commands_and_http_cross_protocol(target: LocalEmulator) -> None:
    assert _raw(target, b"PING\r\nQUIT\r\n") == b"-NOAUTH Authentication required.\r\n+OK\r\n"
    replies = _raw(target, b"HELLO 3\r\nCLIENT SETNAME x\r\nCLIENT SETINFO lib-name y\r\n"
                           b"COMMAND DOCS\r\nHELLO 4\r\nAUTH a b c\r\n").split(b"\r\n")
    assert replies[0].startswith(b"-NOAUTH HELLO must be called with the client already "
                                 b"authenticated")
    assert replies[1:6] == [b"-NOAUTH Authentication required.",
                            b"-ERR unknown subcommand 'SETINFO'. Try CLIENT HELP.",
                            b"-NOAUTH Authentication required.",
                            b"-NOPROTO unsupported protocol version", b"-ERR syntax error"]
    assert _raw(target, b"*11\r\n") == b"-ERR Protocol error: unauthenticated multibulk length\r\n"
    assert _raw(target, b"GET / HTTP/1.0\r\n\r\n") == \
        b"-ERR wrong number of arguments for 'get' command\r\n"
    assert _raw(target, b"POST / HTTP/1.1\r\nHost: x\r\n\r\nPING\r\n") == b""


def test_redis_py_wrong_and_right_password(target: LocalEmulator) -> None:
    once = Retry(NoBackoff(), 0)  # the client's own retries would only slow the test
    bad = redis.Redis(host=target.host, port=target.port(6379), password="nope",
                      protocol=2, socket_timeout=5, retry=once)
    with pytest.raises(redis.AuthenticationError):
        bad.ping()
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(host=target.host, port=target.port(6379), username="ops", password="x",
                    protocol=3, socket_timeout=5, retry=once).ping()
    for protocol in (2, 3):
        good = redis.Redis(host=target.host, port=target.port(6379), password="letmein",
                           protocol=protocol, socket_timeout=5)
        assert good.ping() is True
        info = good.info()
        assert info["redis_version"] == "7.0.15" and info["redis_mode"] == "standalone"
        assert good.set("k", "v") and good.get("k") == b"v" and good.get("none") is None
        assert good.config_get("dir") == {"dir": "/var/lib/redis"}
    logins = target.events("login", wait=3)
    found = {(e.fields["username"], e.fields["password"], e.fields["via"],
              e.fields["success"]) for e in logins}
    assert ("default", "nope", "AUTH", "false") in found
    assert ("ops", "x", "HELLO", "false") in found
    assert ("default", "letmein", "AUTH", "true") in found
    assert ("default", "letmein", "HELLO", "true") in found
    assert any(e.fields["command"] == "SET k v" and e.fields["authenticated"] == "true"
               for e in target.events("command"))


@pytest.fixture
def open_redis() -> Iterator[LocalEmulator]:
    """A redis without requirepass (`protected: false`)."""
    yield from local_emulator(SERVICE, PORTS, {"protected": False})


def test_unprotected_redis_answers(open_redis: LocalEmulator) -> None:
    require_tools("redis-cli", packages="redis-tools")
    assert "redis_version:7.0.15" in _cli(open_redis, "INFO", "server")
    assert _cli(open_redis, "CONFIG", "SET", "dir", "/root/.ssh") == "OK"
    assert _cli(open_redis, "CONFIG", "GET", "dir").split() == ["dir", "/root/.ssh"]
    assert _cli(open_redis, "AUTH", "x").startswith("ERR AUTH <password> called without")
    commands = [e.fields["command"] for e in open_redis.events("command", wait=3)]
    assert "CONFIG SET dir /root/.ssh" in commands


def test_nmap_names_redis(target: LocalEmulator) -> None:
    require_tools("nmap", packages="nmap")
    line = nmap_service(target.host, target.port(6379), timeout=90)
    assert "Redis" in line, line
