"""FakeBus and NullBus keep the bus contract; get_bus picks the implementation from DECNET_BUS."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

from decnet_lib.bus import (
    Bus,
    BusClient,
    BusError,
    FakeBus,
    FakeHub,
    InvalidTopic,
    NullBus,
    ProtocolError,
    get_bus,
)
from decnet_lib.bus.subscription import Subscription

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(asyncio.wait_for(coro, 10))


async def drain(sub: Subscription, wait: float = 0.05) -> list[tuple[str, dict[str, Any]]]:
    """Every event that arrives within `wait` seconds of the last one."""
    got = []
    while True:
        try:
            event = await sub.get(wait)
        except TimeoutError:
            return got
        got.append((event.topic, event.payload))


def test_fake_wildcards_and_no_echo() -> None:
    async def scenario() -> None:
        hub = FakeHub()
        alice, bob = FakeBus(hub, "alice"), FakeBus(hub, "bob")
        star, tail, exact = [await bob.subscribe(p) for p in ("a.*", "a.>", "a.b")]
        own = await alice.subscribe("a.>")
        await alice.publish("a.b", {"n": 1})
        alice.publish_sync("a.b.c", {"n": 2})
        await alice.publish("b.x")
        assert await drain(star) == [("a.b", {"n": 1})]
        assert await drain(tail) == [("a.b", {"n": 1}), ("a.b.c", {"n": 2})]
        assert await drain(exact) == [("a.b", {"n": 1})]
        assert await drain(own) == []  # a client never hears itself
        await bob.publish("a.z", {})
        assert await drain(own) == [("a.z", {})]
        await alice.close()
        await bob.close()
        assert hub._index.patterns() == []

    run(scenario())


def test_fake_events_share_id_but_not_payload() -> None:
    async def scenario() -> None:
        hub = FakeHub()
        pub, sub = FakeBus(hub), FakeBus(hub)
        one, two = await sub.subscribe("x"), await sub.subscribe(">")
        await pub.publish("x", {"k": [1]})
        first, second = await one.get(1), await two.get(1)
        assert first.id == second.id and first.ts == second.ts
        first.payload["k"].append(2)
        assert second.payload == {"k": [1]}

    run(scenario())


def test_fake_publish_sync_from_threads() -> None:
    async def scenario() -> None:
        hub = FakeHub()
        pub, sub = FakeBus(hub), FakeBus(hub)
        events = await sub.subscribe("t.>")

        def worker(n: int) -> None:
            for i in range(50):
                pub.publish_sync(f"t.{n}", {"i": i})

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        await asyncio.to_thread(lambda: [t.join() for t in threads])
        got = await drain(events, 0.2)
        assert len(got) == 200
        for n in range(4):
            assert [p["i"] for t, p in got if t == f"t.{n}"] == list(range(50))

    run(scenario())


@pytest.mark.parametrize("make", [FakeBus, NullBus], ids=["fake", "null"])
def test_same_programmer_errors(make: type) -> None:
    async def scenario() -> None:
        bus = make()
        with pytest.raises(InvalidTopic):
            await bus.publish("a.*", {})
        with pytest.raises(InvalidTopic):
            bus.publish_sync("a..b", {})
        with pytest.raises(ProtocolError, match="JSON object"):
            await bus.publish("a", [1])
        with pytest.raises(ProtocolError, match="serialisable"):
            await bus.publish("a", {"x": object()})
        with pytest.raises(InvalidTopic):
            await bus.subscribe("a.>.b")
        await bus.close()

    run(scenario())


def test_null_bus_accepts_and_drops() -> None:
    async def scenario() -> None:
        bus, other = NullBus(), NullBus()
        sub = await other.subscribe(">")
        await bus.publish("a.b", {"x": 1})
        bus.publish_sync("a.b", {"x": 2})
        assert await drain(sub) == []
        await other.close()
        assert [e async for e in sub] == []  # closing ends the iteration

    run(scenario())


def test_close_ends_iteration() -> None:
    async def scenario() -> None:
        bus = FakeBus(FakeHub())
        sub = await bus.subscribe(">")
        waiter = asyncio.ensure_future(sub.__anext__())
        await asyncio.sleep(0)
        await bus.close()
        with pytest.raises(StopAsyncIteration):
            await waiter

    run(scenario())


def test_subscription_queue_drops_oldest() -> None:
    async def scenario() -> None:
        hub = FakeHub()
        pub, sub = FakeBus(hub), FakeBus(hub)
        events = await sub.subscribe("q", maxsize=3)
        for i in range(5):
            await pub.publish("q", {"i": i})
        assert [p["i"] for _, p in await drain(events)] == [2, 3, 4]
        assert events.dropped == 2

    run(scenario())


def test_all_implement_the_interface(tmp_path: Path) -> None:
    for bus in (FakeBus(FakeHub()), NullBus(), BusClient(tmp_path / "b.sock")):
        assert isinstance(bus, Bus)


@pytest.mark.parametrize(("kind", "cls"), [
    (None, BusClient), ("unix", BusClient), (" UNIX ", BusClient), ("fake", FakeBus),
    ("null", NullBus),
])
def test_get_bus_from_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, kind: str | None,
                          cls: type) -> None:
    if kind is None:
        monkeypatch.delenv("DECNET_BUS", raising=False)
    else:
        monkeypatch.setenv("DECNET_BUS", kind)
    monkeypatch.setenv("DECNET_BUS_SOCKET", str(tmp_path / "custom.sock"))
    bus = get_bus()
    assert type(bus) is cls
    if isinstance(bus, BusClient):
        assert bus.path == tmp_path / "custom.sock"


def test_get_bus_refuses_unknown_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DECNET_BUS", "carrier-pigeon")
    with pytest.raises(BusError, match="carrier-pigeon"):
        get_bus()
