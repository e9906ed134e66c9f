"""`decnet web serve` under real uvicorn on loopback, in front of a real upstream server.

The upstream is tests/support/echo_api.py under uvicorn (it echoes what reached it and
streams SSE); the proxy is decnet_lib.web.app under uvicorn. No Docker needed.
"""

from __future__ import annotations

import base64
import gzip
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from echo_api import ALLOWED_ORIGIN, GZIP_TEXT, HEAD_LENGTH, SseGate, create_echo_api

from agent.background import BackgroundServer
from decnet_lib.web.app import create_app

REPO = Path(__file__).resolve().parents[2]
BODY = bytes(range(256)) * 3


@pytest.fixture(scope="module")
def gate() -> SseGate:
    return SseGate()


@pytest.fixture(scope="module")
def upstream(gate: SseGate) -> Iterator[BackgroundServer]:
    with BackgroundServer(create_echo_api(gate)) as server:  # type: ignore[arg-type]
        yield server


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("bundle")
    (directory / "index.html").write_text("<!doctype html><title>maze</title>")
    (directory / "assets").mkdir()
    (directory / "assets" / "app-1a2b.js").write_text("console.log('maze')")
    return directory


@pytest.fixture(scope="module")
def proxy(upstream: BackgroundServer, bundle: Path) -> Iterator[BackgroundServer]:
    with BackgroundServer(create_app(upstream.url, bundle)) as server:  # type: ignore[arg-type]
        yield server


@pytest.fixture()
def client(proxy: BackgroundServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=proxy.url, timeout=10, trust_env=False) as http:
        yield http


def echoed(response: httpx.Response) -> dict[str, Any]:
    document: dict[str, Any] = response.json()
    document["body"] = base64.b64decode(document["body"])
    document["names"] = [name for name, _ in document["headers"]]
    return document


def header_values(document: dict[str, Any], name: str) -> list[str]:
    return [value for key, value in document["headers"] if key == name]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- every method, bodies, headers, status -------------------------------------------------
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_methods_with_a_body_arrive_intact(client: httpx.Client, method: str) -> None:
    response = client.request(method, "/api/echo/topologies/lab%20one?x=1&y=%2F",
                              content=BODY, headers={"Content-Type": "application/x-bytes"})
    assert response.status_code == 200
    seen = echoed(response)
    assert seen["method"] == method
    assert seen["raw_path"] == "/api/echo/topologies/lab%20one"
    assert seen["query"] == "x=1&y=%2F"
    assert seen["body"] == BODY
    assert header_values(seen, "content-length") == [str(len(BODY))]
    assert header_values(seen, "content-type") == ["application/x-bytes"]


@pytest.mark.parametrize("method", ["GET", "OPTIONS", "DELETE"])
def test_methods_without_a_body(client: httpx.Client, method: str) -> None:
    seen = echoed(client.request(method, "/api/echo/x"))
    assert seen["method"] == method
    assert seen["body"] == b""
    assert "transfer-encoding" not in seen["names"]


def test_head_keeps_the_headers_and_has_no_body(client: httpx.Client) -> None:
    head = client.head("/api/echo/x")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["x-upstream"] == "echo"
    assert head.headers["content-length"] == HEAD_LENGTH


def test_request_headers_forwarded_hop_by_hop_dropped(
        client: httpx.Client, proxy: BackgroundServer, upstream: BackgroundServer) -> None:
    headers = [
        ("Authorization", "Bearer secret-token"), ("X-Multi", "one"), ("X-Multi", "two"),
        ("Connection", "keep-alive, X-Hop"), ("X-Hop", "dropped"), ("TE", "trailers"),
        ("Proxy-Authorization", "Basic eDp5"), ("Keep-Alive", "timeout=5"),
        ("X-Forwarded-For", "198.51.100.7"), ("User-Agent", "maze-test/1"),
    ]
    seen = echoed(client.post("/api/echo/h", content=b"{}", headers=headers))
    assert header_values(seen, "authorization") == ["Bearer secret-token"]
    assert header_values(seen, "x-multi") == ["one", "two"]
    assert header_values(seen, "user-agent") == ["maze-test/1"]
    for name in ("x-hop", "te", "proxy-authorization", "keep-alive"):
        assert name not in seen["names"], name
    assert header_values(seen, "host") == [f"{upstream.host}:{upstream.port}"]
    assert header_values(seen, "x-forwarded-for") == ["198.51.100.7, 127.0.0.1"]
    assert header_values(seen, "x-forwarded-proto") == ["http"]
    assert header_values(seen, "x-forwarded-host") == [f"{proxy.host}:{proxy.port}"]
    assert "accept-encoding" in seen["names"]  # httpx's own, passed as the client sent it


def test_no_header_is_added_that_the_client_did_not_send(proxy: BackgroundServer) -> None:
    request = (f"GET /api/echo/bare HTTP/1.1\r\nHost: {proxy.host}:{proxy.port}\r\n"
               "Connection: close\r\n\r\n").encode()
    with socket.create_connection((proxy.host, proxy.port), timeout=10) as raw:
        raw.sendall(request)
        answer = b""
        while chunk := raw.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    names = {name for name, _ in httpx.Response(200, content=body).json()["headers"]}
    assert names == {"host", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"}


@pytest.mark.parametrize("status", [201, 204, 304, 404, 409, 418, 422])
def test_status_codes_pass_through(client: httpx.Client, status: int) -> None:
    response = client.post(f"/api/echo/s?status={status}", content=b"x")
    assert response.status_code == status
    assert response.headers["x-upstream"] == "echo"


def test_response_headers_pass_through(client: httpx.Client) -> None:
    response = client.get("/api/echo/cookies")
    assert response.headers.get_list("set-cookie") == ["a=1; Path=/", "b=2; Path=/"]
    assert response.headers["etag"] == '"v1"'
    assert response.headers["content-type"] == "application/json"


def test_a_compressed_answer_stays_compressed(proxy: BackgroundServer) -> None:
    with httpx.Client(base_url=proxy.url, trust_env=False) as http, \
            http.stream("GET", "/api/gzip", headers={"Accept-Encoding": "gzip"}) as response:
        raw = b"".join(response.iter_raw())
    assert response.headers["content-encoding"] == "gzip"
    assert gzip.decompress(raw) == GZIP_TEXT


@pytest.mark.parametrize("announced", [True, False])
def test_a_request_body_is_streamed_on_not_held(
        client: httpx.Client, gate: SseGate, announced: bool) -> None:
    """The upstream reads the first chunk while the client still holds the rest back."""
    gate.upload_started.clear()
    chunk = b"x" * 65536
    waited: list[bool] = []

    def body() -> Iterator[bytes]:
        yield chunk
        waited.append(gate.upload_started.wait(5))
        yield chunk * 3

    headers = {"Content-Length": str(len(chunk) * 4)} if announced else {}
    response = client.post("/api/upload", content=body(), headers=headers)
    assert response.status_code == 200, response.text
    assert waited == [True]
    seen = response.json()
    assert seen["received"] == len(chunk) * 4
    if announced:
        assert (seen["content-length"], seen["transfer-encoding"]) == (str(len(chunk) * 4), None)
    else:
        assert (seen["content-length"], seen["transfer-encoding"]) == (None, "chunked")


# -- CORS through the proxy ------------------------------------------------------------------
def preflight(client: httpx.Client, origin: str) -> httpx.Response:
    return client.options("/api/echo/topologies/lab/deckies/web", headers={
        "Origin": origin, "Access-Control-Request-Method": "PATCH",
        "Access-Control-Request-Headers": "authorization, content-type"})


def test_patch_preflight_from_an_allowed_origin_passes_cors_headers(
        client: httpx.Client) -> None:
    response = preflight(client, ALLOWED_ORIGIN)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "PATCH" in response.headers["access-control-allow-methods"]
    assert "authorization" in response.headers["access-control-allow-headers"].lower()
    assert response.headers["access-control-max-age"] == "600"
    patched = client.patch("/api/echo/topologies/lab/deckies/web", json={"services": ["ssh"]},
                           headers={"Origin": ALLOWED_ORIGIN})
    assert patched.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert echoed(patched)["body"] == b'{"services":["ssh"]}'


def test_preflight_from_a_refused_origin_gets_no_cors_headers(client: httpx.Client) -> None:
    response = preflight(client, "http://elsewhere.test")
    assert "access-control-allow-origin" not in response.headers
    patched = client.patch("/api/echo/x", json={}, headers={"Origin": "http://elsewhere.test"})
    assert "access-control-allow-origin" not in patched.headers


# -- Server-Sent Events ------------------------------------------------------------------------
def test_sse_first_event_arrives_before_the_upstream_finishes(
        proxy: BackgroundServer, gate: SseGate) -> None:
    gate.release.clear()
    gate.finished.clear()
    with httpx.Client(base_url=proxy.url, timeout=10, trust_env=False) as http, \
            http.stream("GET", "/api/sse", headers={"Accept": "text/event-stream"}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.iter_lines()
        first = [next(lines), next(lines)]
        assert first == ["event: status", "data: first"]
        assert not gate.finished.is_set()  # the upstream is still holding the second event
        gate.release.set()
        rest = list(lines)
    assert "data: second" in rest
    assert gate.finished.wait(5)


def test_a_client_leaving_an_sse_stream_closes_the_upstream(
        proxy: BackgroundServer, gate: SseGate) -> None:
    gate.release.clear()
    gate.finished.clear()
    with httpx.Client(base_url=proxy.url, timeout=10, trust_env=False) as http, \
            http.stream("GET", "/api/sse", headers={"Accept": "text/event-stream"}) as response:
        assert next(response.iter_lines()) == "event: status"
    assert gate.finished.wait(5)  # cancelled upstream-side well before the 10 s hold


# -- failures of the hop ---------------------------------------------------------------------
def test_an_unreachable_api_is_a_502_in_the_error_shape(bundle: Path) -> None:
    app = create_app(f"http://127.0.0.1:{closed_port()}", bundle)
    with BackgroundServer(app) as server, httpx.Client(trust_env=False) as http:  # type: ignore[arg-type]
        for method in ("GET", "PATCH", "OPTIONS"):
            response = http.request(method, f"{server.url}/api/v1/topologies")
            assert response.status_code == 502
            error = response.json()["error"]
            assert error["code"] == "API_UNREACHABLE"
            assert "cannot be reached" in error["message"]


# -- the bundle ------------------------------------------------------------------------------
def test_bundle_files_and_client_side_routes(client: httpx.Client) -> None:
    index = client.get("/")
    assert index.status_code == 200 and "<title>maze</title>" in index.text
    assert index.headers["cache-control"] == "no-cache"
    route = client.get("/topologies/lab/deckies/web")
    assert route.status_code == 200 and route.text == index.text
    asset = client.get("/assets/app-1a2b.js")
    assert asset.text == "console.log('maze')"
    assert "immutable" in asset.headers["cache-control"]
    assert client.get("/assets/gone.js").status_code == 404
    assert client.post("/").status_code == 405


def test_a_missing_bundle_gets_a_short_page(tmp_path: Path, upstream: BackgroundServer) -> None:
    app = create_app(upstream.url, tmp_path / "not-built")
    with BackgroundServer(app) as server, httpx.Client(trust_env=False) as http:  # type: ignore[arg-type]
        page = http.get(f"{server.url}/topologies")
        assert page.status_code == 503
        assert "not built" in page.text
        assert http.get(f"{server.url}/api/echo/still-proxied").json()["method"] == "GET"


# -- the command -----------------------------------------------------------------------------
def test_decnet_web_serve_runs_the_proxy(upstream: BackgroundServer, bundle: Path) -> None:
    port = closed_port()
    command = [sys.executable, "-m", "decnet_lib.cli", "web", "serve", "--api", upstream.url,
               "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE,
                               env={**os.environ, "DECNET_API_BUNDLE_DIR": str(bundle)})
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.patch(f"http://127.0.0.1:{port}/api/echo/cli", content=b"z",
                                       trust_env=False)
                break
            except httpx.ConnectError:
                assert process.poll() is None, process.stderr.read()  # type: ignore[union-attr]
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert echoed(response)["method"] == "PATCH"
        page = httpx.get(f"http://127.0.0.1:{port}/topologies/lab", trust_env=False)
        assert "<title>maze</title>" in page.text  # DECNET_API_BUNDLE_DIR's index.html
    finally:
        process.terminate()
        process.wait(10)


@pytest.mark.parametrize("url", ["ftp://host", "127.0.0.1:8700", "http://", "http://h:99999"])
def test_decnet_web_serve_refuses_a_bad_api_url(url: str) -> None:
    done = subprocess.run([sys.executable, "-m", "decnet_lib.cli", "web", "serve", "--api", url],
                          cwd=REPO, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert done.stderr.startswith("error[USAGE]: --api")
    assert len(done.stderr.strip().splitlines()) == 1
