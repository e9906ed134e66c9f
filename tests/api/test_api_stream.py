"""`GET /api/v1/stream`: real bus events as Server-Sent Events, keep-alives, the per-token
connection cap, and the slot given back when the client goes."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator

import orjson
from api_mazes import store_live_maze
from api_server import Api

from decnet_lib.bus import BusClient


def read_events(lines: Iterator[str], wanted: int, timeout: float = 15.0
                ) -> tuple[list[tuple[str, dict]], int]:
    """The next `wanted` events (name, data) and how many keep-alives came meanwhile."""
    events: list[tuple[str, dict]] = []
    keepalives, name = 0, None
    deadline = time.monotonic() + timeout
    for line in lines:
        if line.startswith(": keep-alive"):
            keepalives += 1
        elif line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            assert name is not None
            events.append((name, orjson.loads(line.removeprefix("data: "))))
        if len(events) >= wanted or time.monotonic() > deadline:
            break
    return events, keepalives


def publish(api: Api, topic: str, payload: dict) -> None:
    async def main() -> None:
        async with BusClient(api.settings.bus_socket, "api-test") as bus:
            await bus.publish(topic, payload)
    asyncio.run(main())


def test_stream_sends_bus_events(api: Api) -> None:
    with api.client("viewer") as client, client.stream("GET", "/api/v1/stream") as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        assert next(lines).startswith(": keep-alive")  # open at once
        _, keepalives = read_events(lines, 1, timeout=1.0)  # nothing but keep-alives
        assert keepalives >= 1
        publish(api, "attack.abc.web01.ssh", {"event": "login", "src_ip": "203.0.113.7"})
        publish(api, "system.worker.health", {"ignored": True})
        publish(api, "topology.abc.status", {"from": "pending", "to": "deploying"})
        events, _ = read_events(lines, 2)
        assert [(name, data["topic"]) for name, data in events] == [
            ("attack", "attack.abc.web01.ssh"), ("status", "topology.abc.status")]
        assert events[0][1]["payload"] == {"event": "login", "src_ip": "203.0.113.7"}
        # the API's own changes are published on the bus and come back on the stream
        with api.client("operator") as operator:
            created = operator.post("/api/v1/topologies", json={
                "name": "streammaze", "lans": [{"name": "dmz", "subnet": "10.231.20.0/24",
                                                "dmz": True}],
                "deckies": [{"name": "web01", "services": ["http"], "lans": {"dmz": None}}]})
            assert created.status_code == 201
            topology_id = created.json()["topology"]["id"]
        events, _ = read_events(lines, 1)
        assert events[0][0] == "status"
        assert events[0][1]["topic"] == f"topology.{topology_id}.status"
        assert events[0][1]["payload"]["to"] == "pending"
        live_id = store_live_maze(api.settings.db_url, "livestream", 24)
        with api.client("operator") as operator:
            queued = operator.post("/api/v1/topologies/livestream/mutations", json={
                "op": "remove_decky", "payload": {"decky": "web01"}})
            assert queued.status_code == 202
        events, _ = read_events(lines, 1)
        assert [(name, data["topic"]) for name, data in events] == [
            ("mutation", f"topology.{live_id}.mutation.enqueued")]
        assert events[0][1]["payload"]["mutation_id"] == queued.json()["id"]
        publish(api, "decky.web01.state", {"state": "running"})
        events, _ = read_events(lines, 1)
        assert [(name, data["payload"]) for name, data in events] == [
            ("decky", {"state": "running"})]


def test_stream_cap_per_token_and_release(sqlite_api: Api) -> None:
    """Two streams per token here (DECNET_API_STREAM_MAX_PER_TOKEN=2)."""
    api = sqlite_api
    first = api.client("viewer")
    second = api.client("viewer")
    with first.stream("GET", "/api/v1/stream") as one, \
            second.stream("GET", "/api/v1/stream") as two:
        assert one.status_code == two.status_code == 200
        with api.client("viewer") as third:
            refused = third.get("/api/v1/stream")
            assert refused.status_code == 429
            assert refused.json()["error"]["code"] == "TOO_MANY_STREAMS"
        with api.client("operator") as other, other.stream("GET", "/api/v1/stream") as own:
            assert own.status_code == 200  # the cap is per token
        next(two.iter_lines())
    first.close()
    second.close()
    deadline = time.monotonic() + 10
    with api.client("viewer") as again:
        while True:  # the server notices the clients went (within a keep-alive or two)
            with again.stream("GET", "/api/v1/stream") as answer:
                if answer.status_code == 200:
                    break
            assert time.monotonic() < deadline, "the slots were never given back"
            time.sleep(0.2)


def test_open_streams_do_not_hold_up_a_shutdown(sqlite_api: Api) -> None:
    """SIGTERM with a stream open: the server ends it and exits within its grace period."""
    client = sqlite_api.client("viewer")
    with client.stream("GET", "/api/v1/stream") as stream:
        assert stream.status_code == 200
        next(stream.iter_lines())
        started = time.monotonic()
        os.kill(sqlite_api.process.pid, signal.SIGTERM)
        assert sqlite_api.process.wait(15) in (0, -signal.SIGTERM)  # uvicorn re-raises it
        assert time.monotonic() - started < 10
    client.close()
