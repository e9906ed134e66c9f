"""elasticsearch: curl and httpx against the emulator (8.x with security, and open), nmap."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import httpx
import pytest

from tests.emulators.harness import LocalEmulator, local_emulator, nmap_service, require_tools
from tests.emulators.waiting import wait_for

SERVICE = "elasticsearch"
PORTS = ["9200/tcp"]
CHALLENGE = 'Basic realm="security" charset="UTF-8"'


def _url(target: LocalEmulator, path: str) -> str:
    return f"http://{target.host}:{target.port(9200)}{path}"


def _curl(*args: str) -> tuple[str, dict[str, list[str]], str]:
    """(status line, headers by lower-case name, body) of curl -i."""
    require_tools("curl", packages="curl")
    out = subprocess.run(["curl", "-sS", "-i", "--max-time", "10", *args],
                         capture_output=True, timeout=20)
    head, _, body = out.stdout.decode().partition("\r\n\r\n")
    status, *lines = head.split("\r\n")
    headers: dict[str, list[str]] = {}
    for line in lines:
        name, _, value = line.partition(": ")
        headers.setdefault(name.lower(), []).append(value)
    return status, headers, body


def _security_error(body: str, reason: str) -> None:
    document = json.loads(body)
    assert document["status"] == 401
    (cause,) = document["error"]["root_cause"]
    assert cause["type"] == document["error"]["type"] == "security_exception"
    assert cause["reason"] == document["error"]["reason"] == reason
    assert cause["header"]["WWW-Authenticate"][0] == CHALLENGE


def test_root_without_credentials_is_401(target: LocalEmulator) -> None:
    status, headers, body = _curl(_url(target, "/"))
    assert status == "HTTP/1.1 401 Unauthorized"
    assert headers["www-authenticate"] == [CHALLENGE, 'Bearer realm="security"', "ApiKey"]
    assert headers["x-elastic-product"] == ["Elasticsearch"]
    assert headers["content-type"] == ["application/json"]
    _security_error(body, "missing authentication token for REST request [/]")
    request = wait_for(target, "request", lambda e: e.fields["path"] == "/")
    assert request.src_ip == target.source


def test_basic_credentials_are_recorded_and_refused(target: LocalEmulator) -> None:
    status, headers, body = _curl("-u", "elastic:changeme",
                                  _url(target, "/_cat/indices?v"))
    assert status == "HTTP/1.1 401 Unauthorized"
    assert headers["x-elastic-product"] == ["Elasticsearch"]
    _security_error(body, "unable to authenticate user [elastic] for REST request "
                          "[/_cat/indices?v]")
    login = wait_for(target, "login", lambda e: e.fields.get("username") == "elastic")
    assert login.fields["password"] == "changeme"
    assert login.fields["success"] == "false" and login.fields["mech"] == "basic"
    assert login.src_ip == target.source

    response = httpx.get(_url(target, "/"), auth=("kibana_system", "kibana"), timeout=10)
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "security_exception"
    login = wait_for(target, "login", lambda e: e.fields.get("username") == "kibana_system")
    assert login.fields["password"] == "kibana"


def test_api_key_and_queries_are_recorded(target: LocalEmulator) -> None:
    query = {"query": {"match": {"user.name": "admin"}}}
    response = httpx.post(_url(target, "/logs-*/_search"), json=query, timeout=10,
                          headers={"Authorization": "ApiKey dGVzdDprZXk="})
    assert response.status_code == 401
    assert response.headers["x-elastic-product"] == "Elasticsearch"
    assert "additional_unsuccessful_credentials" in response.json()["error"]
    login = wait_for(target, "login", lambda e: e.fields.get("mech") == "apikey")
    assert login.fields["token"] == "dGVzdDprZXk="
    searched = wait_for(target, "query", lambda e: e.fields.get("endpoint") == "_search")
    assert searched.fields["index"] == "logs-*"
    assert json.loads(searched.fields["query"]) == query
    request = wait_for(target, "request", lambda e: e.fields.get("method") == "POST")
    assert json.loads(request.fields["body"]) == query


def test_unknown_paths_are_401_before_routing(target: LocalEmulator) -> None:
    response = httpx.delete(_url(target, "/no/such/endpoint"), timeout=10)
    assert response.status_code == 401
    assert response.headers["x-elastic-product"] == "Elasticsearch"
    assert "[/no/such/endpoint]" in response.json()["error"]["reason"]


@pytest.fixture
def open_node() -> Iterator[LocalEmulator]:
    yield from local_emulator(SERVICE, PORTS, {"security": False, "cluster_name": "prod-logs"})


def test_open_node_main_document(open_node: LocalEmulator) -> None:
    status, headers, body = _curl(_url(open_node, "/"))
    assert status == "HTTP/1.1 200 OK"
    assert headers["x-elastic-product"] == ["Elasticsearch"]
    assert headers["content-type"] == ["application/json"]
    assert '  "tagline" : "You Know, for Search"\n}\n' in body
    document = json.loads(body)
    assert document["name"] == "decky01"
    assert document["cluster_name"] == "prod-logs"
    assert len(document["cluster_uuid"]) == 22
    version = document["version"]
    assert version["number"].startswith("8.")
    assert len(version["build_hash"]) == 40 and version["lucene_version"].startswith("9.")
    again = httpx.get(_url(open_node, "/"), timeout=10).json()
    assert again["cluster_uuid"] == document["cluster_uuid"]  # derived, stable


def test_open_node_errors_are_elasticsearch_json(open_node: LocalEmulator) -> None:
    missing = httpx.get(_url(open_node, "/customers/_doc/1"), timeout=10)
    assert missing.status_code == 404
    assert missing.headers["x-elastic-product"] == "Elasticsearch"
    error = missing.json()["error"]
    assert error["type"] == "index_not_found_exception"
    assert error["reason"] == "no such index [customers]"
    assert missing.json()["status"] == 404
    unknown = httpx.get(_url(open_node, "/_nonsense"), timeout=10)
    assert unknown.status_code == 400
    assert unknown.json() == {"error": "no handler found for uri [/_nonsense] and method [GET]"}
    wrong = httpx.delete(_url(open_node, "/"), timeout=10)
    assert wrong.status_code == 405
    assert wrong.json()["error"].startswith("Incorrect HTTP method for uri [/]")
    health = httpx.get(_url(open_node, "/_cluster/health"), timeout=10).json()
    assert health["cluster_name"] == "prod-logs" and health["status"] == "green"
    hits = httpx.get(_url(open_node, "/_search?q=password"), timeout=10).json()
    assert hits["hits"]["total"] == {"value": 0, "relation": "eq"}
    searched = wait_for(open_node, "query", lambda e: e.fields.get("query") == "password")
    assert searched.src_ip == open_node.source


def test_open_node_records_written_documents(open_node: LocalEmulator) -> None:
    note = {"message": "All your data is backed up. Pay 0.1 BTC to recover it."}
    written = httpx.post(_url(open_node, "/read_me/_doc"), json=note, timeout=10)
    assert written.status_code == 201
    assert written.headers["x-elastic-product"] == "Elasticsearch"
    assert written.json()["result"] == "created" and written.json()["_index"] == "read_me"
    assert written.headers["location"] == f"/read_me/_doc/{written.json()['_id']}"
    request = wait_for(open_node, "request", lambda e: e.fields.get("method") == "POST")
    assert request.fields["path"] == "/read_me/_doc"
    assert json.loads(request.fields["body"]) == note


def test_nmap_names_elasticsearch(target: LocalEmulator) -> None:
    require_tools("nmap", packages="nmap")
    line = nmap_service(target.host, target.port(9200))
    assert "Elasticsearch REST API" in line, line
