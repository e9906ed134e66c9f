"""BusClient against a real server: reconnection, outages, sync publishing, shared contract."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest

from decnet_lib.bus import Bus, BusClient, BusUnavailable, FakeBus, FakeHub, InvalidTopic
from decnet_lib.bus.errors import ProtocolError
from decnet_lib.bus.server import BusServer
from decnet_lib.bus.subscription import Subscription

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T], timeout: float = 20) -> T:
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def eventually(check: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def drain(sub: Subscription, wait: float = 0.1) -> list[tuple[str, dict[str, Any]]]:
    got = []
    while True:
        try:
            event = await sub.get(wait)
        except TimeoutError:
            return got
        got.append((event.topic, event.payload))


def fast_client(sock: Path, name: str) -> BusClient:
    return BusClient(sock, name, backoff_initial=0.01, backoff_max=0.05)


@pytest.fixture
def sock(tmp_path: Path) -> Path:
    return tmp_path / "bus.sock"


def bus_outage_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "decnet.bus" and "unavailable" in r.getMessage()]


def test_reconnects_and_resubscribes_after_restart(sock: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="decnet.bus")

    async def scenario() -> None:
        server = BusServer(sock, health_interval=0)
        await server.start()
        sub_client, pub = fast_client(sock, "sub"), fast_client(sock, "pub")
        await sub_client.connect()
        await pub.connect()
        sub = await sub_client.subscribe("svc.>")
        await pub.publish("svc.a", {"n": 1})
        assert (await sub.get(2)).payload == {"n": 1}

        await server.stop()
        await eventually(lambda: not pub.connected and not sub_client.connected)
        for i in range(200):  # publishing while the bus is down never raises
            await pub.publish("svc.a", {"down": i})
            pub.publish_sync("svc.a", {"down-sync": i})
        with pytest.raises(BusUnavailable):
            await pub.ping()
        await asyncio.sleep(0.3)  # several failed reconnection attempts
        assert len(bus_outage_warnings(caplog)) == 2  # once per client, not per message

        server = BusServer(sock, health_interval=0)
        await server.start()
        await eventually(lambda: pub.connected and sub_client.connected)
        await sub_client.ping()  # its SUB (re-sent on reconnect) is in place
        await drain(sub)  # whatever of the buffered events made it: at-most-once
        await pub.publish("svc.b", {"n": 2})
        assert (await sub.get(2)).payload == {"n": 2}
        assert any("is back" in r.getMessage() for r in caplog.records)
        await pub.close()
        await sub_client.close()
        await server.stop()

    run(scenario())


def test_publish_before_any_server_never_raises(sock: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="decnet.bus")

    async def scenario() -> None:
        client = BusClient(sock, "lonely", outbox_size=10, backoff_initial=0.01,
                           backoff_max=0.02)
        for i in range(100):
            await client.publish("a.b", {"i": i})
        client.publish_sync("a.b", {})
        assert client.dropped == 91  # bounded outbox: the oldest are dropped
        with pytest.raises(BusUnavailable):
            await client.connect(timeout=0.1)
        await asyncio.sleep(0.1)
        assert len(bus_outage_warnings(caplog)) == 1
        await client.close()

    run(scenario())


def test_events_published_while_connecting_are_sent(sock: Path) -> None:
    async def scenario() -> None:
        async with BusServer(sock, health_interval=0), BusClient(sock, "sub") as sub_client:
            sub = await sub_client.subscribe("early")
            pub = BusClient(sock, "pub")
            await pub.publish("early", {"first": True})  # before the connection is up
            assert (await sub.get(2)).payload == {"first": True}
            await pub.close()

    run(scenario())


def test_bad_input_still_raises(sock: Path) -> None:
    async def scenario() -> None:
        client = BusClient(sock)
        with pytest.raises(InvalidTopic):
            await client.publish("a.*", {})
        with pytest.raises(InvalidTopic):
            client.publish_sync("", {})
        with pytest.raises(ProtocolError):
            await client.publish("a", [1, 2])  # type: ignore[arg-type]
        with pytest.raises(ProtocolError, match="does not fit"):
            await client.publish("a", {"x": "y" * ((1 << 20) - 40)})
        with pytest.raises(InvalidTopic):
            await client.subscribe("a.>.b")
        await client.close()

    run(scenario())


def test_publish_sync_from_threads_and_close_sync(sock: Path) -> None:
    async def scenario() -> None:
        async with BusServer(sock, health_interval=0), BusClient(sock, "sub") as sub_client:
            sub = await sub_client.subscribe("sync.>")
            syncer = BusClient(sock, "sync-pub")

            def worker(n: int) -> None:
                for i in range(100):
                    syncer.publish_sync(f"sync.{n}", {"i": i})

            def publish_all() -> None:
                threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                syncer.close_sync()  # flushes, then stops the client's own thread

            started = time.perf_counter()
            await asyncio.to_thread(publish_all)
            assert time.perf_counter() - started < 3
            got = await drain(sub, 0.3)
            assert len(got) == 400
            for n in range(4):
                assert [p["i"] for t, p in got if t == f"sync.{n}"] == list(range(100))
            assert syncer._thread is None

    run(scenario())


def test_publish_sync_inside_the_loop(sock: Path) -> None:
    async def scenario() -> None:
        async with BusServer(sock, health_interval=0), BusClient(sock, "sub") as sub_client:
            sub = await sub_client.subscribe("x")
            pub = BusClient(sock, "pub")
            pub.publish_sync("x", {"from": "loop"})  # binds to this loop, no thread
            assert (await sub.get(2)).payload == {"from": "loop"}
            assert pub._thread is None
            await pub.close()

    run(scenario())


def test_subscription_close_sends_unsub(sock: Path) -> None:
    async def scenario() -> None:
        async with BusServer(sock, health_interval=0) as server, \
                BusClient(sock, "pub") as pub, BusClient(sock, "sub") as client:
            first = await client.subscribe("k.*")
            second = await client.subscribe("k.*")
            await first.close()
            await pub.publish("k.a", {})
            assert (await second.get(2)).topic == "k.a"
            async with second:
                pass
            await client.ping()
            assert next(c for c in server.stats()["connections"]
                        if c["name"] == "sub")["patterns"] == []

    run(scenario())


# -- the same contract on the real bus and on FakeBus ------------------------------------------
@asynccontextmanager
async def two_clients(kind: str, sock: Path) -> AsyncIterator[tuple[Bus, Bus]]:
    if kind == "fake":
        hub = FakeHub()
        yield FakeBus(hub, "a"), FakeBus(hub, "b")
        return
    async with BusServer(sock, health_interval=0), BusClient(sock, "a") as a, \
            BusClient(sock, "b") as b:
        yield a, b


@pytest.mark.parametrize("kind", ["unix", "fake"])
def test_contract(kind: str, sock: Path) -> None:
    async def scenario() -> None:
        async with two_clients(kind, sock) as (alice, bob):
            subs = {p: await bob.subscribe(p) for p in ("t.*", "t.>", "t.x", "*.x", ">")}
            own = await alice.subscribe(">")
            for topic in ("t.x", "t.x.y", "u.x", "t"):
                await alice.publish(topic, {"topic": topic})
            alice.publish_sync("t.y", {})
            got = {p: [t for t, _ in await drain(s)] for p, s in subs.items()}
            assert got == {
                "t.*": ["t.x", "t.y"],
                "t.>": ["t.x", "t.x.y", "t.y"],
                "t.x": ["t.x"],
                "*.x": ["t.x", "u.x"],
                ">": ["t.x", "t.x.y", "u.x", "t", "t.y"],
            }
            assert await drain(own) == []  # no echo
            await alice.close()
            await bob.close()
            assert [e async for e in subs["t.*"]] == []  # close ends the iteration

    run(scenario())


def test_hello_renames_the_connection(sock: Path) -> None:
    async def scenario() -> None:
        async with BusServer(sock, health_interval=0) as server, BusClient(sock, "before") as c:
            await c.ping()
            assert [x["name"] for x in server.stats()["connections"]] == ["before"]
            await c.hello("after")
            await c.ping()
            assert [x["name"] for x in server.stats()["connections"]] == ["after"]
            with pytest.raises(ProtocolError, match="space"):
                await c.hello("two words")

    run(scenario())


def test_sync_publish_then_exit_is_delivered(sock: Path) -> None:
    """A script that publishes and closes at once still gets its event out."""

    async def scenario() -> None:
        async with BusServer(sock, health_interval=0), BusClient(sock, "sub") as sub_client:
            sub = await sub_client.subscribe("script.done")

            def script() -> None:
                client = BusClient(sock, "script")
                client.publish_sync("script.done", {"ok": True})
                client.close_sync()

            await asyncio.to_thread(script)
            assert (await sub.get(2)).payload == {"ok": True}

    run(scenario())
