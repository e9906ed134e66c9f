"""`decnet web serve` in front of the real API (`decnet api serve` with a real bus, SQLite):
the proxied answers are the API's own, CORS for PATCH passes through, the live stream flows.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from api_server import ALLOWED_ORIGIN, Api, running_api

from agent.background import BackgroundServer
from decnet_lib.bus.client import BusClient
from decnet_lib.web.app import create_app

DOC = {"name": "proxymaze", "lans": [{"name": "dmz", "subnet": "10.231.41.0/24", "dmz": True}],
       "deckies": [{"name": "web01", "services": ["http"], "lans": {"dmz": None}}]}
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    tmp = tmp_path_factory.mktemp("webapi")
    with running_api(tmp, f"sqlite:///{tmp / 'db' / 'decnet.db'}") as server:
        yield server


@pytest.fixture(scope="module")
def web(api: Api, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundServer]:
    bundle = tmp_path_factory.mktemp("nobundle") / "absent"
    with BackgroundServer(create_app(api.url, bundle)) as server:  # type: ignore[arg-type]
        yield server


def both(api: Api, web: BackgroundServer, method: str, path: str,
         **kwargs: object) -> tuple[httpx.Response, httpx.Response]:
    """The same request straight to the API and through the proxy."""
    with httpx.Client(timeout=30, trust_env=False) as http:
        direct = http.request(method, api.url + path, **kwargs)  # type: ignore[arg-type]
        proxied = http.request(method, web.url + path, **kwargs)  # type: ignore[arg-type]
    return direct, proxied


def test_every_method_gets_the_apis_own_answer(api: Api, web: BackgroundServer) -> None:
    created = httpx.post(f"{web.url}/api/v1/topologies", json=DOC,
                         headers=api.headers("operator"), timeout=30, trust_env=False)
    assert created.status_code == 201, created.text
    stored = httpx.get(f"{api.url}/api/v1/topologies/proxymaze", headers=api.headers(),
                       trust_env=False)
    assert stored.json()["name"] == "proxymaze"  # the create went through, body intact
    for method in METHODS:
        for path in ("/api/v1/topologies", "/api/v1/topologies/proxymaze", "/api/v1/nowhere"):
            direct, proxied = both(api, web, method, path, headers=api.headers("viewer"))
            assert (method, path, proxied.status_code) == (method, path, direct.status_code)
            assert proxied.content == direct.content
            assert proxied.headers.get("content-type") == direct.headers.get("content-type")
    no_token, _ = both(api, web, "GET", "/api/v1/topologies")
    _, proxied = both(api, web, "GET", "/api/v1/topologies")
    assert proxied.status_code == no_token.status_code == 401
    assert proxied.json()["error"]["code"] == "UNAUTHORIZED"
    assert proxied.headers["www-authenticate"] == "Bearer"


def test_a_patch_preflight_and_the_patch_carry_cors_headers(
        api: Api, web: BackgroundServer) -> None:
    with httpx.Client(base_url=web.url, timeout=30, trust_env=False) as http:
        if http.get("/api/v1/topologies/proxymaze", headers=api.headers()).status_code == 404:
            assert http.post("/api/v1/topologies", json=DOC,
                             headers=api.headers()).status_code == 201
        path = "/api/v1/topologies/proxymaze/deckies/web01"
        asked = {"Access-Control-Request-Method": "PATCH",
                 "Access-Control-Request-Headers": "authorization, content-type"}
        allowed = http.options(path, headers={"Origin": ALLOWED_ORIGIN, **asked})
        assert allowed.status_code in (200, 204), allowed.text
        assert allowed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
        assert "PATCH" in allowed.headers["access-control-allow-methods"]
        refused = http.options(path, headers={"Origin": "http://elsewhere.test", **asked})
        assert not any(name.startswith("access-control-") for name in refused.headers)

        patched = http.patch(path, json={"services": ["http", "ssh"]},
                             headers=api.headers("operator", Origin=ALLOWED_ORIGIN))
        assert patched.status_code == 200, patched.text
        assert patched.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
        assert patched.json()["mode"] == "direct"
        shown = http.get("/api/v1/topologies/proxymaze", headers=api.headers()).json()
    assert "ssh" in str(shown)


def test_the_live_stream_flows_through(api: Api, web: BackgroundServer) -> None:
    stop = threading.Event()

    def publish() -> None:  # until the event shows up (the stream subscribes after it opens)
        bus = BusClient(api.settings.bus_socket, "web-proxy-test")
        try:
            while not stop.wait(0.2):
                bus.publish_sync("attack.proxytest.web01.ssh", {"source_ip": "198.51.100.9"})
        finally:
            bus.close_sync()

    publisher = threading.Thread(target=publish, daemon=True)
    started = time.monotonic()
    try:
        with httpx.Client(timeout=10, trust_env=False) as http, http.stream(
                "GET", f"{web.url}/api/v1/stream",
                headers=api.headers("viewer", Accept="text/event-stream")) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            lines = response.iter_lines()
            assert next(lines) == ": keep-alive"
            publisher.start()
            seen = []
            for line in lines:
                seen.append(line)
                if line.startswith("data:") and "198.51.100.9" in line:
                    break
                assert time.monotonic() - started < 10, seen
    finally:
        stop.set()
        publisher.join(5)
    assert "event: attack" in seen
