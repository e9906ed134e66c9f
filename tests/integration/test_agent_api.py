"""The agent API under uvicorn with real mutual TLS on 127.0.0.1 (no Docker needed).

Certificates come from the PKI in a temporary directory. The Deployer is a recording fake
(or one pointed at a socket that does not exist), so these tests prove the TLS gate, the
body checks, the no-Docker-at-boot rule, the predecessor and error bookkeeping and the hooks.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import httpx
import orjson
import pytest
import typer
from typer.testing import CliRunner

from agent.app import create_app
from agent.background import BackgroundServer
from agent.server import TlsFiles
from decnet_lib import __version__
from decnet_lib.cli import agent as agent_cli
from decnet_lib.deploy.deployer import ApplyResult, Deployer
from decnet_lib.deploy.failures import ObjectError
from decnet_lib.deploy.observed import Inventory
from decnet_lib.deploy.plan import Plan
from decnet_lib.deploy.teardown import TeardownResult
from decnet_lib.master.agent_client import AgentClient, AgentError
from decnet_lib.pki import init_ca, issue
from decnet_lib.settings import Settings, get_settings
from decnet_lib.topology.hashing import canonical_hash
from decnet_lib.topology.loader import decode_document
from decnet_lib.topology.resolve import resolve
from decnet_lib.topology.resolved import ResolvedTopology
from decnet_lib.validation.validate import validate_data

MAZE = """
name: {name}
lans:
  - {{name: dmz, subnet: 10.214.{a}.0/24, dmz: true}}
  - {{name: office, subnet: 10.214.{b}.0/24}}
deckies:
  - {{name: gw, services: [ssh], lans: {{dmz: 10.214.{a}.10, office: 10.214.{b}.10}},
     forwards_l3: true}}
  - {{name: web, services: [http], lans: {{dmz: null}}}}
"""


def make_topology(name: str = "apitest", a: int = 250, b: int = 251) -> ResolvedTopology:
    doc, issues = validate_data(decode_document(MAZE.format(name=name, a=a, b=b).encode()))
    assert doc is not None, issues
    return resolve(doc, uuid.uuid4().hex)


def apply_body(topology: ResolvedTopology) -> dict[str, Any]:
    data = topology.model_dump(mode="json")
    return {"topology": data, "hash": canonical_hash(data)}


# -- fixtures ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("pki")
    init_ca(directory)
    issue(directory, "agent", "server")
    issue(directory, "master", "client")
    other = directory / "other"
    init_ca(other)
    issue(other, "intruder", "client")
    return directory


def tls_files(pki: Path) -> TlsFiles:
    return TlsFiles(pki / "agent.crt", pki / "agent.key", pki / "ca.crt")


def master(server: BackgroundServer, pki: Path) -> AgentClient:
    return AgentClient(server.url, cert=pki / "master.crt", key=pki / "master.key",
                       ca=pki / "ca.crt", timeout=30)


def settings_in(path: Path) -> Settings:
    return get_settings(state_dir=path, mode="agent")


class FakeDeployer:
    """Records every call and how many run at once; fails when told to."""

    def __init__(self, delay: float = 0.0) -> None:
        self.calls: list[tuple[str, str]] = []
        self.fail = False
        self.fail_teardown = False
        self.closed = False
        self.delay = delay
        self.busy = 0
        self.max_busy = 0
        self._lock = threading.Lock()

    def _work(self) -> None:
        with self._lock:
            self.busy += 1
            self.max_busy = max(self.max_busy, self.busy)
        time.sleep(self.delay)
        with self._lock:
            self.busy -= 1

    def apply(self, resolved: ResolvedTopology) -> ApplyResult:
        self.calls.append(("apply", resolved.id))
        self._work()
        result = ApplyResult(Plan(resolved.id, resolved.name))
        if self.fail:
            result.errors.append(ObjectError("container", "dn-x-web-http", "create",
                                             "No such image: nope:latest"))
        return result

    def teardown(self, topology_id: str) -> TeardownResult:
        self.calls.append(("teardown", topology_id))
        self._work()
        result = TeardownResult(topology_id, containers=["c"], networks=["n"])
        if self.fail_teardown:
            result.errors.append(ObjectError("network", "dn-x-dmz", "remove", "in use"))
        return result

    def inventory(self, topology_id: str) -> Inventory:
        self.calls.append(("inventory", topology_id))
        return Inventory(topology_id)

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def fake_agent(pki: Path, tmp_path: Path) -> Iterator[tuple[BackgroundServer, list[Any]]]:
    """A served agent whose deployer factory records every call (and every deployer)."""
    made: list[FakeDeployer] = []

    def factory() -> FakeDeployer:
        made.append(FakeDeployer())
        return made[-1]

    app = create_app(settings_in(tmp_path / "state"), factory)
    with BackgroundServer(app, tls=tls_files(pki)) as server:
        yield server, made


@pytest.fixture(scope="module")
def shared_agent(
    pki: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[BackgroundServer, list[int]]]:
    """One served agent for the body checks; its deployer factory must never be called."""
    calls: list[int] = []

    def factory() -> FakeDeployer:
        calls.append(1)
        return FakeDeployer()

    app = create_app(settings_in(tmp_path_factory.mktemp("state")), factory)
    with BackgroundServer(app, tls=tls_files(pki)) as server:
        yield server, calls


# -- mutual TLS ----------------------------------------------------------------------------
def test_health_over_mutual_tls(shared_agent: tuple[BackgroundServer, list[int]],
                                pki: Path) -> None:
    server, calls = shared_agent
    assert server.url.startswith("https://127.0.0.1:")
    assert master(server, pki).health() == {"ok": True, "version": __version__}
    context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    context.load_cert_chain(pki / "master.crt", pki / "master.key")
    assert _handshake_and_request(server, context).startswith(b"HTTP/1.1 200")
    assert calls == []


def _handshake_and_request(server: BackgroundServer, context: ssl.SSLContext) -> bytes:
    """TLS handshake then a request; returns what the server sends back.

    With TLS 1.3 the client finishes its side of the handshake before the server checks the
    client certificate, so the refusal shows on the first read: an alert, a reset, or an
    EOF without close_notify (an SSLEOFError, since ragged EOFs are not suppressed).
    """
    with socket.create_connection((server.host, server.port), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname="127.0.0.1",
                                suppress_ragged_eofs=False) as tls:
        tls.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return tls.recv(4096)


def test_client_without_certificate_is_refused(
    shared_agent: tuple[BackgroundServer, list[int]], pki: Path
) -> None:
    server, _ = shared_agent
    context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    with pytest.raises((ssl.SSLError, ConnectionError)):
        _handshake_and_request(server, context)
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{server.url}/health", verify=context, timeout=10)
    with pytest.raises(AgentError) as error:
        AgentClient(server.url, ca=pki / "ca.crt", timeout=10).health()
    assert error.value.status is None and "cannot reach the agent" in str(error.value)


def test_client_with_certificate_of_another_ca_is_refused(
    shared_agent: tuple[BackgroundServer, list[int]], pki: Path
) -> None:
    server, _ = shared_agent
    other = pki / "other"
    context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    context.load_cert_chain(other / "intruder.crt", other / "intruder.key")
    with pytest.raises((ssl.SSLError, ConnectionError)):
        _handshake_and_request(server, context)
    client = AgentClient(server.url, cert=other / "intruder.crt", key=other / "intruder.key",
                         ca=pki / "ca.crt", timeout=10)
    with pytest.raises(AgentError) as error:
        client.health()
    assert error.value.status is None


def test_master_refuses_an_agent_certified_by_another_ca(
    shared_agent: tuple[BackgroundServer, list[int]], pki: Path
) -> None:
    server, _ = shared_agent
    client = AgentClient(server.url, cert=pki / "master.crt", key=pki / "master.key",
                         ca=pki / "other" / "ca.crt", timeout=10)
    with pytest.raises(AgentError, match="CERTIFICATE_VERIFY_FAILED"):
        client.health()


def test_plain_http_to_the_tls_port_gets_nothing(
    shared_agent: tuple[BackgroundServer, list[int]],
) -> None:
    server, _ = shared_agent
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{server.port}/health", timeout=10)


# -- bad bodies ----------------------------------------------------------------------------
def _valid() -> dict[str, Any]:
    return apply_body(make_topology())


def _mismatched() -> dict[str, Any]:
    body = _valid()
    body["hash"] = "0" * 64
    return body


def _tampered() -> dict[str, Any]:
    body = _valid()
    body["topology"]["deckies"][0]["services"].append("telnet")  # hash no longer matches
    return body


def _invalid_topology() -> dict[str, Any]:
    topology = make_topology()
    data = topology.model_dump(mode="json")
    data["lans"][1]["dmz"] = True  # two DMZs
    data["deckies"][1]["lans"] = {"dmz": "10.214.250.10"}  # collides with gw
    data["deckies"][0]["services"].append("nosuchservice")
    return {"topology": data, "hash": canonical_hash(data)}


def _wrong_shape() -> dict[str, Any]:
    data = {"id": uuid.uuid4().hex, "name": "x", "lans": "not a list", "deckies": []}
    return {"topology": data, "hash": "whatever"}


def _bad_id() -> dict[str, Any]:
    data = make_topology().model_dump(mode="json")
    data["id"] = "../../etc"
    return {"topology": data, "hash": canonical_hash(data)}


BAD_APPLY = [
    pytest.param(b"{not json", 400, "BAD_REQUEST", "not valid JSON", id="not-json"),
    pytest.param(b"", 400, "BAD_REQUEST", "empty body", id="empty"),
    pytest.param(b"[1, 2]", 400, "BAD_REQUEST", "must be a JSON object, got list", id="list"),
    pytest.param(b"null", 400, "BAD_REQUEST", "got null", id="null"),
    pytest.param(b'"text"', 400, "BAD_REQUEST", "got str", id="string"),
    pytest.param(lambda: {"topology": _valid()["topology"]}, 400, "BAD_REQUEST",
                 "hash: Field required", id="missing-hash"),
    pytest.param(lambda: {"hash": "x"}, 400, "BAD_REQUEST", "topology: Field required",
                 id="missing-topology"),
    pytest.param(lambda: {**_valid(), "hash": 12}, 400, "BAD_REQUEST",
                 "hash: Input should be a valid string", id="hash-not-string"),
    pytest.param(lambda: {"topology": [1], "hash": "x"}, 400, "BAD_REQUEST",
                 "topology: Input should be a valid dictionary", id="topology-not-object"),
    pytest.param(_mismatched, 400, "HASH_MISMATCH", "hash mismatch", id="hash-mismatch"),
    pytest.param(_tampered, 400, "HASH_MISMATCH", "hash mismatch", id="tampered"),
    pytest.param(_invalid_topology, 422, "INVALID_TOPOLOGY", "topology is invalid",
                 id="invalid-topology"),
    pytest.param(_wrong_shape, 422, "INVALID_TOPOLOGY", "SCHEMA lans", id="wrong-shape"),
    pytest.param(_bad_id, 422, "INVALID_TOPOLOGY", "SCHEMA id", id="bad-id"),
]


def _raw_client(server: BackgroundServer, pki: Path) -> httpx.Client:
    context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    context.load_cert_chain(pki / "master.crt", pki / "master.key")
    return httpx.Client(base_url=server.url, verify=context, timeout=30)


@pytest.mark.parametrize(("body", "status", "code", "reason"), BAD_APPLY)
def test_bad_apply_bodies_get_4xx_with_a_reason(
    shared_agent: tuple[BackgroundServer, list[int]], pki: Path,
    body: Any, status: int, code: str, reason: str,
) -> None:
    server, calls = shared_agent
    content = body if isinstance(body, bytes) else orjson.dumps(body())
    with _raw_client(server, pki) as client:
        response = client.post("/topology/apply", content=content,
                               headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    answer = response.json()
    assert answer["code"] == code and reason in answer["detail"], answer
    assert "\n" not in answer["detail"]
    assert calls == []  # no Deployer (no Docker) for a refused body


def test_invalid_topology_reports_every_issue(
    shared_agent: tuple[BackgroundServer, list[int]], pki: Path
) -> None:
    server, _ = shared_agent
    with pytest.raises(AgentError) as error:
        master(server, pki)._request("POST", "/topology/apply", json=_invalid_topology())
    assert error.value.status == 422 and error.value.agent_code == "INVALID_TOPOLOGY"
    codes = {issue["code"] for issue in error.value.body["issues"]}
    assert {"DMZ_MULTIPLE", "IP_COLLISION", "UNKNOWN_SERVICE"} <= codes
    assert "HTTP 422" in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("method", "path", "content", "reason"),
    [
        ("POST", "/topology/teardown", b"[]", "must be a JSON object"),
        ("POST", "/topology/teardown", b"{", "not valid JSON"),
        ("POST", "/topology/teardown", b'{"topology_id": 5}', "valid string"),
        ("POST", "/topology/teardown", b'{"topology_id": "../x"}', "invalid topology id"),
        ("GET", "/topology?full=maybe", None, "full"),
        ("GET", "/topology?topology_id=a%20b", None, "invalid topology id"),
    ],
)
def test_other_bad_requests_get_400(
    shared_agent: tuple[BackgroundServer, list[int]], pki: Path,
    method: str, path: str, content: bytes | None, reason: str,
) -> None:
    server, calls = shared_agent
    with _raw_client(server, pki) as client:
        response = client.request(method, path, content=content)
    assert response.status_code == 400, response.text
    assert reason in response.json()["detail"]
    assert calls == []


# -- Docker only when needed ---------------------------------------------------------------
def test_no_docker_at_boot_nor_for_health(
    fake_agent: tuple[BackgroundServer, list[FakeDeployer]], pki: Path
) -> None:
    server, made = fake_agent
    client = master(server, pki)
    client.health()
    report = client.topology()
    assert report["id"] is None and report["docker"] is None and report["last_error"] is None
    assert made == []  # booted, answered health and an empty report: no Deployer made
    assert client.teardown()["message"] == "nothing to tear down"
    assert made == []
    client.teardown("a" * 32)  # needs Docker: the Deployer is made now, once
    client.teardown("b" * 32)
    assert len(made) == 1 and made[0].calls == [("teardown", "a" * 32), ("teardown", "b" * 32)]


def test_docker_unreachable_is_503_and_the_error_is_recorded(pki: Path, tmp_path: Path) -> None:
    def factory() -> Deployer:
        missing = f"unix://{tmp_path / 'no-docker.sock'}"
        return Deployer(docker.DockerClient(base_url=missing, version="1.41", timeout=5))

    app = create_app(settings_in(tmp_path / "state"), factory)
    topology = make_topology()
    with BackgroundServer(app, tls=tls_files(pki)) as server:
        client = master(server, pki)
        with pytest.raises(AgentError) as error:
            client.apply(topology)
        assert error.value.status == 503 and error.value.agent_code == "DOCKER_UNAVAILABLE"
        assert "HTTP 503" in str(error.value)
        with pytest.raises(AgentError) as error:
            client.topology()
        assert error.value.status == 503
    last = orjson.loads((tmp_path / "state" / "agent" / "last_error.json").read_bytes())
    assert last["topology"]["id"] == topology.id and last["topology"]["lans"]
    pinned = orjson.loads((tmp_path / "state" / "agent" / "pinned.json").read_bytes())
    assert pinned["topology"]["id"] == topology.id and pinned["status"] == "failed"


def test_predecessor_teardown_pinning_errors_and_hooks(pki: Path, tmp_path: Path) -> None:
    deployer = FakeDeployer()
    events: list[str] = []
    app = create_app(settings_in(tmp_path / "state"), lambda: deployer)
    app.state.hooks.on_first_successful_apply.append(lambda: events.append("start"))
    app.state.hooks.on_first_successful_apply.append(lambda: 1 / 0)  # logged, not fatal
    app.state.hooks.on_shutdown.append(lambda: events.append("stop"))
    first, second = make_topology("first"), make_topology("second", 240, 241)
    with BackgroundServer(app, tls=tls_files(pki)) as server:
        client = master(server, pki)
        deployer.fail = True
        answer = client.apply(first)
        assert answer["status"] == "failed" and answer["errors"] and events == []
        report = client.topology(full=True)
        assert report["id"] == first.id and report["status"] == "failed"
        assert report["last_error"]["topology"]["id"] == first.id
        assert "No such image" in report["last_error"]["error"]

        deployer.fail = False
        answer = client.apply(first)  # the same topology again: no teardown, error cleared
        assert answer["status"] == "active" and answer["predecessors"] == []
        assert client.topology()["last_error"] is None and events == ["start"]

        answer = client.apply(second)  # a different one: the predecessor goes first
        assert answer["status"] == "active" and answer["hash"] == canonical_hash(
            second.model_dump(mode="json"))
        assert [p["topology_id"] for p in answer["predecessors"]] == [first.id]
        applies = [c for c in deployer.calls if c[0] != "inventory"]
        assert applies == [("apply", first.id), ("apply", first.id),
                           ("teardown", first.id), ("apply", second.id)]
        report = client.topology()
        assert (report["id"], report["name"], report["status"]) == (second.id, "second",
                                                                    "active")
        assert events == ["start"]  # once per process

        answer = client.teardown()
        assert answer["ok"] and answer["status"] == "torn_down"
        assert client.topology()["id"] is None
    assert events == ["start", "stop"] and deployer.closed


# -- the serve command ---------------------------------------------------------------------
def _agent_cli() -> typer.Typer:
    app = typer.Typer()
    agent_cli.register(app)

    @app.callback()
    def _root() -> None:
        """Test root."""

    return app


def test_serve_refuses_to_start_without_certificates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DECNET_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("DECNET_MODE", "agent")
    runner = CliRunner()
    result = runner.invoke(_agent_cli(), ["agent", "serve", "--port", "1"])
    assert result.exit_code == 1
    line = result.output.strip()
    assert line.startswith("error[AGENT_CONFIG]: missing TLS file(s): ")
    assert str(tmp_path / "state" / "pki" / "agent.crt") in line and "\n" not in line
    assert "--insecure-http (tests only)" in line
    bad = tmp_path / "bad.crt"
    bad.write_text("not a certificate")
    result = runner.invoke(_agent_cli(), ["agent", "serve", "--cert", str(bad), "--key",
                                          str(bad), "--ca", str(bad)])
    assert result.exit_code == 1 and "unusable TLS files" in result.output
    result = runner.invoke(_agent_cli(), ["agent", "serve", "--insecure-http", "--cert",
                                          str(bad)])
    assert result.exit_code == 2 and "cannot be combined" in result.output


def test_applies_and_teardowns_run_one_at_a_time(pki: Path, tmp_path: Path) -> None:
    deployer = FakeDeployer(delay=0.2)
    app = create_app(settings_in(tmp_path / "state"), lambda: deployer)
    topologies = [make_topology(f"race{i}", 200 + 2 * i, 201 + 2 * i) for i in range(4)]
    with BackgroundServer(app, tls=tls_files(pki)) as server:
        client = master(server, pki)
        answers: list[dict[str, Any]] = []
        threads = [threading.Thread(target=lambda t=t: answers.append(client.apply(t)))
                   for t in topologies]
        threads.append(threading.Thread(target=lambda: answers.append(client.teardown())))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert len(answers) == 5 and deployer.max_busy == 1
        report = client.topology()
    pinned = [a for a in answers if a.get("topology_id")]
    assert all(a["status"] == "active" for a in pinned)
    if report["id"] is not None:  # the teardown did not come last: the last apply is pinned
        last_apply = [c for c in deployer.calls if c[0] == "apply"][-1]
        assert report["id"] == last_apply[1]


def test_a_predecessor_that_cannot_be_removed_is_a_502_and_stays_pinned(
    pki: Path, tmp_path: Path
) -> None:
    deployer = FakeDeployer()
    app = create_app(settings_in(tmp_path / "state"), lambda: deployer)
    first, second = make_topology("keep"), make_topology("next", 230, 231)
    with BackgroundServer(app, tls=tls_files(pki)) as server:
        client = master(server, pki)
        assert client.apply(first)["status"] == "active"
        deployer.fail_teardown = True
        with pytest.raises(AgentError) as error:
            client.apply(second)
        assert error.value.status == 502 and error.value.agent_code == (
            "PREDECESSOR_TEARDOWN_FAILED")
        assert "nothing was applied" in str(error.value)
        report = client.topology(full=True)
        assert report["id"] == first.id and report["status"] == "failed"
        assert report["last_error"]["topology"]["id"] == first.id
        assert ("apply", second.id) not in deployer.calls

        deployer.fail_teardown = False
        answer = client.apply(second)  # a retry goes through: never stranded
        assert answer["status"] == "active"
        report = client.topology()
        assert report["id"] == second.id and report["last_error"] is None
