"""Events, attackers and the catalog over HTTP; the OpenAPI document declares every answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from api_server import Api
from sqlalchemy.orm import Session

from decnet_lib.catalog import ARCHETYPES, SERVICES
from decnet_lib.db import AttackEvent, make_engine


def add_events(api: Api) -> None:
    """Three events of one attacker on `readmaze` (not stored: names only) and one of another."""
    now = datetime.now(UTC)
    rows = [
        (now - timedelta(hours=2), "web01", "ssh", "login", "203.0.113.7",
         {"username": "root", "password": "toor", "success": False}),
        (now - timedelta(minutes=3), "web01", "ssh", "login", "203.0.113.7",
         {"username": "root", "password": "123456", "success": True}),
        (now - timedelta(minutes=2), "web01", "ssh", "command", "203.0.113.7",
         {"command": "uname -a"}),
        (now - timedelta(minutes=1), "web01", "http", "request", "198.51.100.9",
         {"path": "/admin"}),
    ]
    engine = make_engine(api.settings.db_url)
    try:
        with Session(engine) as session:
            for seq, (ts, decky, service, kind, src, fields) in enumerate(rows, 1):
                session.add(AttackEvent(ts=ts, topology_id="f" * 32, topology="readmaze",
                                        decky=decky, lan="dmz", service=service, event=kind,
                                        src_ip=src, src_port=40000 + seq, dst_ip="10.0.0.10",
                                        dst_port=22, proto="tcp", session=f"s{seq}",
                                        fields=fields, source="test", epoch="e1", seq=seq))
            session.commit()
    finally:
        engine.dispose()


def test_events_attackers_and_catalog(api: Api) -> None:
    add_events(api)
    with api.client("viewer") as client:
        events = client.get("/api/v1/events").json()
        assert [e["event"] for e in events] == ["login", "login", "command", "request"]
        assert events[0]["fields"] == {"username": "root", "password": "toor",
                                       "success": False}
        assert events[0]["ts"].endswith("Z") and events[0]["topology"] == "readmaze"
        mine = client.get("/api/v1/events", params={"attacker": "203.0.113.7",
                                                    "since": "1h"}).json()
        assert [e["event"] for e in mine] == ["login", "command"]
        after = client.get("/api/v1/events", params={"after_id": events[1]["id"],
                                                     "limit": 1}).json()
        assert [e["id"] for e in after] == [events[2]["id"]]
        assert client.get("/api/v1/events", params={"topology": "other"}).json() == []
        bad = client.get("/api/v1/events", params={"since": "yesterday"})
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "BAD_SINCE"
        bad = client.get("/api/v1/events", params={"limit": 0})
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "BAD_REQUEST"

        attackers = client.get("/api/v1/attackers").json()
        assert [a["src_ip"] for a in attackers] == ["203.0.113.7", "198.51.100.9"]
        first = attackers[0]
        assert first["events"] == 3 and first["deckies"] == ["web01"]
        assert first["commands"] == ["uname -a"]
        assert {(c["password"], c["success"]) for c in first["credentials"]} == {
            ("toor", False), ("123456", True)}
        recent = client.get("/api/v1/attackers", params={"since": "30m"}).json()
        assert [a["src_ip"] for a in recent] == ["203.0.113.7", "198.51.100.9"]
        assert recent[0]["events"] == 2
        one = client.get("/api/v1/attackers", params={"attacker": "198.51.100.9"}).json()
        assert [a["src_ip"] for a in one] == ["198.51.100.9"]
        bad = client.get("/api/v1/attackers", params={"since": "soon"})
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "BAD_SINCE"

        services = client.get("/api/v1/catalog/services").json()
        assert {s["name"] for s in services} == set(SERVICES)
        archetypes = client.get("/api/v1/catalog/archetypes").json()
        assert {a["name"] for a in archetypes} == set(ARCHETYPES)


def _declared(operation: dict) -> set[int]:
    return {int(status) for status in operation["responses"] if status.isdigit()}


def test_openapi_declares_every_body_and_error(sqlite_api: Api) -> None:
    document = httpx.get(f"{sqlite_api.url}/api/v1/openapi.json", timeout=30).json()
    error_schema = document["components"]["schemas"]["ErrorBody"]
    assert set(error_schema["properties"]) == {"error"}
    assert "HTTPBearer" in document["components"]["securitySchemes"]
    checked = 0
    for path, methods in document["paths"].items():
        assert path.startswith("/api/v1/"), path
        for method, operation in methods.items():
            declared = _declared(operation)
            params = operation.get("parameters", [])
            where = f"{method.upper()} {path}"
            for status in declared - {200, 201, 202, 204}:
                content = operation["responses"][str(status)]["content"]["application/json"]
                assert content["schema"] == {"$ref": "#/components/schemas/ErrorBody"}, where
            if path == "/api/v1/health":
                assert not declared & {401, 403}, where
                continue
            assert 401 in declared, where
            assert operation.get("security") == [{"HTTPBearer": []}], where
            assert (403 in declared) == (method != "get"), where
            if "{" in path:
                assert 404 in declared, where
            if "requestBody" in operation or any(p["in"] == "query" for p in params) \
                    or "{" in path:
                assert 422 in declared, where
            if "requestBody" in operation:
                body = operation["requestBody"]["content"]["application/json"]["schema"]
                assert body, where
                assert 413 in declared, where
            checked += 1
    assert checked == 17


def test_bad_input_is_a_4xx_never_a_500(sqlite_api: Api) -> None:
    nested: object = 1
    for _ in range(40):
        nested = [nested]
    deep = {"patch": {"meta": {"a": nested}}}
    cases = [
        ("POST", "/api/v1/topologies", {"content": b"[" * 100_000}),
        ("POST", "/api/v1/topologies", {"content": b"\xff\xfe"}),
        ("POST", "/api/v1/topologies", {"json": {"name": "a" * 10_000, "lans": "x"}}),
        ("GET", "/api/v1/events?since=99999999999d", {}),
        ("GET", "/api/v1/events?after_id=99999999999999999999999", {}),
        ("GET", "/api/v1/events?limit=-1", {}),
        ("GET", "/api/v1/attackers?since=99999999999d", {}),
        ("GET", "/api/v1/topologies/%00", {}),
        ("PATCH", "/api/v1/topologies/x/deckies/y", {"json": deep}),
        ("POST", "/api/v1/topologies/x/mutations", {"json": {"op": 5, "payload": []}}),
        ("POST", "/api/v1/topologies/x/deploy", {"json": {"agent": 5}}),
        ("DELETE", "/api/v1/topologies/x?force=perhaps", {}),
    ]
    with sqlite_api.client() as client:
        for method, url, extra in cases:
            headers = {"Content-Type": "application/json"} if "content" in extra else {}
            answer = client.request(method, url, headers=headers, **extra)
            assert 400 <= answer.status_code < 500, (method, url, answer.text)
            assert answer.json()["error"]["code"], (method, url)
        # over DECNET_MAX_DOCUMENT_BYTES (200000 here): refused before it is read
        big = client.post("/api/v1/topologies", json={"name": "x" * 300_000})
        assert big.status_code == 413 and big.json()["error"]["code"] == "TOO_LARGE"

        def chunks():  # no Content-Length: counted as it arrives
            for _ in range(30):
                yield b" " * 10_000
        chunked = client.post("/api/v1/topologies", content=chunks(),
                              headers={"Content-Type": "application/json"})
        assert chunked.status_code in (400, 413), chunked.text
        assert client.get("/api/v1/topologies").json() == []


def test_head_answers_like_get_without_a_body(sqlite_api: Api) -> None:
    with httpx.Client(base_url=sqlite_api.url, timeout=30) as client:
        health = client.head("/api/v1/health")
        assert health.status_code == 200 and health.content == b""
        assert int(health.headers["content-length"]) == len(client.get("/api/v1/health").content)
        assert client.head("/api/v1/topologies").status_code == 401
        viewer = client.head("/api/v1/catalog/services", headers=sqlite_api.headers("viewer"))
        assert viewer.status_code == 200 and viewer.content == b""
        assert client.head("/api/v1/topologies/x", headers=sqlite_api.headers("viewer")
                           ).status_code == 404
        stream = client.head("/api/v1/stream", headers=sqlite_api.headers("viewer"))
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
