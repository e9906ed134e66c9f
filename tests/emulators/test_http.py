"""http: curl, urllib and httpx against the emulator (Apache look), events and nmap."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import httpx
import pytest

from tests.emulators.harness import (
    LocalEmulator,
    local_emulator,
    nmap_service,
    require_tools,
)
from tests.emulators.waiting import wait_for

SERVICE = "http"
PORTS = ["80/tcp"]


def _url(target: LocalEmulator, path: str) -> str:
    return f"http://{target.host}:{target.port(80)}{path}"


def _curl(*args: str) -> subprocess.CompletedProcess[str]:
    """curl -i (the answer's CRLFs kept)."""
    require_tools("curl", packages="curl")
    out = subprocess.run(["curl", "-sS", "-i", "--max-time", "10", *args],
                         capture_output=True, timeout=20)
    return subprocess.CompletedProcess(out.args, out.returncode,
                                       out.stdout.decode("latin-1"), out.stderr.decode())


def test_index_is_apache_default_page(target: LocalEmulator) -> None:
    out = _curl(_url(target, "/"))
    head, _, body = out.stdout.partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 200 OK")
    assert "\r\nServer: Apache/2.4.57 (Debian)\r\n" in head
    assert "Apache2 Debian Default Page" in body
    (request,) = target.events("request", wait=3)
    assert request.fields["method"] == "GET" and request.fields["path"] == "/"
    assert request.fields["user_agent"].startswith("curl/")
    assert request.src_ip == target.source


def test_unknown_paths_are_404(target: LocalEmulator) -> None:
    out = _curl(_url(target, "/backup.zip"))
    assert out.stdout.startswith("HTTP/1.1 404 Not Found")
    assert "The requested URL was not found on this server." in out.stdout
    assert "Apache/2.4.57 (Debian) Server at" in out.stdout
    response = httpx.get(_url(target, "/wp-content/plugins/x.php"), timeout=10)
    assert response.status_code == 404
    assert response.headers["server"] == "Apache/2.4.57 (Debian)"
    assert response.headers["content-type"] == "text/html; charset=iso-8859-1"
    wait_for(target, "request", lambda e: e.fields["path"] == "/wp-content/plugins/x.php")


def test_form_login_is_recorded(target: LocalEmulator) -> None:
    page = _curl(_url(target, "/login"))
    assert page.stdout.startswith("HTTP/1.1 200 OK")
    assert 'name="password"' in page.stdout
    out = _curl("-d", "username=admin&password=Winter2024%21&csrf_token=x",
                _url(target, "/login"))
    assert out.stdout.startswith("HTTP/1.1 200 OK")
    assert "Invalid username or password." in out.stdout
    login = target.events("login", wait=3)[-1]
    assert (login.fields["username"], login.fields["password"]) == ("admin", "Winter2024!")
    assert login.fields["success"] == "false"
    assert login.fields["mech"] == "form"
    assert login.src_ip == target.source
    post = wait_for(target, "request", lambda e: e.fields.get("method") == "POST")
    assert post.fields["body"] == "username=admin&password=Winter2024%21&csrf_token=x"


def test_post_body_is_recorded(target: LocalEmulator) -> None:
    payload = b'{"cmd": "id; uname -a"}'
    response = httpx.post(_url(target, "/cgi-bin/api.cgi"), content=payload,
                          headers={"content-type": "application/json"}, timeout=10)
    assert response.status_code == 404
    post = wait_for(target, "request", lambda e: e.fields.get("method") == "POST")
    assert post.fields["body"] == payload.decode()
    assert post.fields["bytes"] == str(len(payload))
    assert post.fields["content_type"] == "application/json"


def test_post_body_logged_is_bounded(target: LocalEmulator) -> None:
    response = httpx.post(_url(target, "/upload"), content=b"A" * 5000, timeout=10)
    assert response.status_code == 404
    post = wait_for(target, "request", lambda e: e.fields.get("method") == "POST")
    assert post.fields["bytes"] == "5000"
    assert post.fields["body"] == "A" * 256


def test_basic_auth_is_recorded(target: LocalEmulator) -> None:
    out = _curl("-u", "backup:s3cr3t", _url(target, "/private/"))
    assert out.stdout.startswith("HTTP/1.1 401 Unauthorized")
    assert 'WWW-Authenticate: Basic realm="Restricted Area"' in out.stdout
    login = target.events("login", wait=3)[-1]
    assert login.fields["mech"] == "basic"
    assert (login.fields["username"], login.fields["password"]) == ("backup", "s3cr3t")
    assert login.fields["success"] == "false"
    assert login.src_ip == target.source

    manager = urllib.request.HTTPPasswordMgrWithDefaultRealm()
    manager.add_password(None, _url(target, "/"), "root", "toor")
    opener = urllib.request.build_opener(urllib.request.HTTPBasicAuthHandler(manager))
    with pytest.raises(urllib.error.HTTPError) as failure:
        opener.open(_url(target, "/backup/db.sql"), timeout=10)
    assert failure.value.code == 401  # challenged, answered with credentials, refused
    sent = wait_for(target, "login", lambda e: e.fields.get("username") == "root")
    assert sent.fields["password"] == "toor"


def test_keep_alive_serves_several_requests(target: LocalEmulator) -> None:
    with httpx.Client(timeout=10) as client:
        codes = [client.get(_url(target, p)).status_code for p in ("/", "/nope", "/")]
    assert codes == [200, 404, 200]
    wait_for(target, "request", lambda e: e.fields["path"] == "/nope")
    time.sleep(0.3)
    sessions = {e.fields["session"] for e in target.events("request")}
    assert len(sessions) == 1 and len(target.events("request")) == 3


def test_malformed_request_is_400_and_recorded(target: LocalEmulator) -> None:
    with socket.create_connection((target.host, target.port(80)), timeout=10) as sock:
        sock.sendall(b"\x16\x03\x01 nonsense\r\n\r\n")
        reply = sock.recv(4096)
    assert reply.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"Your browser sent a request that this server could not understand." in reply
    bad = wait_for(target, "data", lambda e: "request" in e.fields.get("reason", ""))
    assert bad.src_ip == target.source


@pytest.fixture
def nginx() -> Iterator[LocalEmulator]:
    yield from local_emulator(SERVICE, PORTS, {"server_header": "nginx/1.22.1"})


def test_nginx_look(nginx: LocalEmulator) -> None:
    response = httpx.get(_url(nginx, "/"), timeout=10)
    assert response.headers["server"] == "nginx/1.22.1"
    assert "Welcome to nginx!" in response.text
    missing = httpx.get(_url(nginx, "/x"), timeout=10)
    assert missing.status_code == 404
    assert "<center>nginx/1.22.1</center>" in missing.text


@pytest.fixture
def windows() -> Iterator[LocalEmulator]:
    yield from local_emulator(SERVICE, PORTS, {"server_header": "Apache/2.4.57 (Debian)"},
                              {"os_family": "windows"})


def test_windows_persona_is_iis(windows: LocalEmulator) -> None:
    response = httpx.get(_url(windows, "/"), timeout=10)
    assert response.headers["server"] == "Microsoft-IIS/10.0"
    assert "IIS Windows Server" in response.text
    assert httpx.get(_url(windows, "/x"), timeout=10).status_code == 404


def test_nmap_names_apache(target: LocalEmulator) -> None:
    require_tools("nmap", packages="nmap")
    line = nmap_service(target.host, target.port(80))
    assert "http" in line and "Apache httpd 2.4.57" in line, line
