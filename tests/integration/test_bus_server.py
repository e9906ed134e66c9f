"""The bus server on real UNIX sockets (in-process): routing, isolation, back-pressure, files."""

from __future__ import annotations

import asyncio
import os
import socket
import stat
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

from decnet_lib.bus.client import BusClient
from decnet_lib.bus.errors import BusAlreadyRunning, BusError
from decnet_lib.bus.protocol import Frame, decode_frame, encode_frame
from decnet_lib.bus.server import HEALTH_TOPIC, BusServer
from decnet_lib.bus.subscription import Subscription

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T], timeout: float = 20) -> T:
    return asyncio.run(asyncio.wait_for(coro, timeout))


class Raw:
    """A bare connection speaking frames by hand."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, path: Path) -> Raw:
        return cls(*await asyncio.open_unix_connection(str(path)))

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def frame(self, timeout: float = 2.0) -> Frame | None:
        """The next frame, or None at end of stream."""
        try:
            header = await asyncio.wait_for(self.reader.readuntil(b"\n"), timeout)
            length = await self.reader.readexactly(4)
            body = await self.reader.readexactly(int.from_bytes(length, "big"))
        except asyncio.IncompleteReadError:
            return None
        return decode_frame(header + length + body)

    async def until_closed(self, timeout: float = 2.0) -> list[Frame]:
        """Every frame until the server closes the connection (fails on timeout)."""
        frames = []
        while (frame := await self.frame(timeout)) is not None:
            frames.append(frame)
        return frames

    def close(self) -> None:
        self.writer.close()


async def collect(sub: Subscription, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
    return [(await sub.get(timeout)).payload for _ in range(count)]


async def nothing_more(sub: Subscription, wait: float = 0.1) -> bool:
    try:
        await sub.get(wait)
    except TimeoutError:
        return True
    return False


@pytest.fixture
def sock(tmp_path: Path) -> Path:
    return tmp_path / "run" / "bus.sock"


# -- routing -----------------------------------------------------------------------------------
def test_pub_sub_envelope_and_no_echo(sock: Path) -> None:
    async def scenario() -> None:
        async with BusServer(sock, health_interval=0) as server, \
                BusClient(sock, "pub") as pub, BusClient(sock, "sub") as sub_client:
            sub = await sub_client.subscribe("topology.*.status")
            own = await pub.subscribe("topology.>")
            before = time.time()
            await pub.publish("topology.acme.status", {"status": "active"})
            event = await sub.get(2)
            assert event.topic == "topology.acme.status"
            assert event.payload == {"status": "active"}
            assert event.v == 1 and len(event.id) >= 16 and int(event.id, 16) >= 0
            assert before - 1 <= event.ts <= time.time() + 1
            assert await nothing_more(own)  # the publisher does not hear itself
            await sub_client.publish("topology.acme.status", {})
            assert (await own.get(2)).payload == {}
            stats = server.stats()
            assert stats["published"] == 2 and stats["delivered"] == 2 and stats["clients"] == 2
            names = {c["name"] for c in stats["connections"]}
            assert names == {"pub", "sub"}

    run(scenario())


def test_raw_envelope_fields(sock: Path) -> None:
    async def scenario() -> None:
        async with BusServer(sock, health_interval=0):
            sub, pub = await Raw.open(sock), await Raw.open(sock)
            await sub.send(encode_frame("SUB", "a.>") + encode_frame("PING"))
            assert (await sub.frame()).verb == "PONG"
            await pub.send(encode_frame("PUB", "a.b", {"x": [1, {"y": None}]}))
            frame = await sub.frame()
            assert frame.verb == "EVT" and frame.arg == "a.b"
            assert set(frame.body) == {"v", "id", "topic", "ts", "payload"}
            assert frame.body["v"] == 1 and frame.body["topic"] == "a.b"
            assert isinstance(frame.body["ts"], float) and isinstance(frame.body["id"], str)
            assert frame.body["payload"] == {"x": [1, {"y": None}]}
            await pub.send(encode_frame("PUB", "a.c"))  # length 0: payload {}
            assert (await sub.frame()).body["payload"] == {}
            await sub.send(encode_frame("UNSUB", "a.>") + encode_frame("PING"))
            assert (await sub.frame()).verb == "PONG"
            await pub.send(encode_frame("PUB", "a.d") + encode_frame("PING"))
            assert (await pub.frame()).verb == "PONG"
            await sub.send(encode_frame("PING"))
            assert (await sub.frame()).verb == "PONG"  # nothing was delivered after UNSUB
            await pub.send(encode_frame("BYE"))
            assert [f.verb for f in await pub.until_closed()] == ["BYE"]
            sub.close()

    run(scenario())


def test_ping_pong(sock: Path) -> None:
    async def scenario() -> None:
        async with BusServer(sock, health_interval=0), BusClient(sock) as client:
            rtt = await client.ping()
            assert 0 < rtt < 1
            raw = await Raw.open(sock)
            await raw.send(encode_frame("PING") * 3)
            assert [(await raw.frame()).verb for _ in range(3)] == ["PONG"] * 3
            raw.close()

    run(scenario())


def test_fan_out_to_100_subscribers(sock: Path) -> None:
    async def scenario() -> None:
        async with BusServer(sock, health_interval=0) as server, BusClient(sock, "pub") as pub:
            clients = [BusClient(sock, f"s{i}") for i in range(100)]
            await asyncio.gather(*(c.connect() for c in clients))
            subs = [await c.subscribe("fan.*" if i % 2 else "fan.>")
                    for i, c in enumerate(clients)]
            assert server.stats()["clients"] == 101
            for i in range(50):
                await pub.publish("fan.out", {"i": i})
            for sub in subs:
                assert [p["i"] for p in await collect(sub, 50)] == list(range(50))
            assert server.delivered == 5000
            for client in clients:
                await client.close()

    run(scenario())


# -- malformed frames --------------------------------------------------------------------------
BAD_FRAMES = {
    "unknown verb": b"HELO x\n\0\0\0\0",
    "header too long": b"PUB " + b"a" * 5000,
    "non-ASCII": b"PUB caf\xc3\xa9\n\0\0\0\0",
    "control char": b"PUB a\rb\n\0\0\0\0",
    "space in argument": b"SUB a b\n\0\0\0\0",
    "missing argument": b"PUB\n\0\0\0\0",
    "extra argument": b"PING now\n\0\0\0\0",
    "body too big": b"PUB a\n" + (2 << 20).to_bytes(4, "big"),
    "invalid JSON": b"PUB a\n\0\0\0\x05{oops",
    "non-object JSON": b"PUB a\n\0\0\0\x07[1,2,3]",
    "bad topic": b"PUB a..b\n\0\0\0\0",
    "wildcard topic": b"PUB a.*\n\0\0\0\0",
    "bad pattern": b"SUB a.>.b\n\0\0\0\0",
    "EVT from a client": b"EVT a\n\0\0\0\0",
}
TRUNCATED = {
    "no newline": b"PUB a.b",
    "truncated length": b"PUB a\n\0\0",
    "truncated body": b'PUB a\n\0\0\0\x20{"x": 1',
}


@pytest.mark.parametrize("case", [*BAD_FRAMES, *TRUNCATED])
def test_malformed_frame_closes_only_that_connection(sock: Path, case: str) -> None:
    async def scenario() -> None:
        async with BusServer(sock, health_interval=0) as server, \
                BusClient(sock, "good-pub") as pub, BusClient(sock, "good-sub") as good:
            sub = await good.subscribe("a.>")
            bad = await Raw.open(sock)
            await bad.send(encode_frame("SUB", ">") + encode_frame("PING"))
            assert (await bad.frame()).verb == "PONG"
            if case in BAD_FRAMES:
                await bad.send(BAD_FRAMES[case])
                frames = await bad.until_closed()
                assert [f.verb for f in frames] == ["BYE"]
                assert frames[0].body["reason"]
            else:
                await bad.send(TRUNCATED[case])
                bad.writer.write_eof()
                assert await bad.until_closed() == []
            assert server.protocol_errors == 1
            # everyone else keeps working
            await pub.publish("a.b", {"after": case})
            assert (await sub.get(2)).payload == {"after": case}
            assert await good.ping() < 1
            assert server.stats()["clients"] == 2

    run(scenario())


def test_garbage_between_good_frames_only_hurts_its_sender(sock: Path) -> None:
    async def scenario() -> None:
        async with BusServer(sock, health_interval=0), BusClient(sock) as good:
            sub = await good.subscribe("x")
            bad = await Raw.open(sock)
            await bad.send(encode_frame("PUB", "x", {"n": 1}) + b"\0\0garbage\n"
                           + encode_frame("PUB", "x", {"n": 2}))
            await bad.until_closed()
            assert [p["n"] for p in await collect(sub, 1)] == [1]
            assert await nothing_more(sub)

    run(scenario())


# -- back-pressure -----------------------------------------------------------------------------
QUEUE = 512  # frames a subscriber's queue holds while its socket is backed up


async def _publish_burst(sock: Path, count: int, with_slow: bool,
                         health: bool = False) -> tuple[float, dict[str, Any], list[Any]]:
    payload = {"pad": "p" * 400}
    async with BusServer(sock, queue_size=QUEUE, health_interval=0.2 if health else 0) as server, \
            BusClient(sock, "pub") as pub, BusClient(sock, "fast") as fast:
        sub = await fast.subscribe("burst.>")
        health_sub = await fast.subscribe(HEALTH_TOPIC)
        slow = None
        if with_slow:
            raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            raw.connect(str(sock))
            raw.sendall(encode_frame("HELLO", "slow") + encode_frame("SUB", ">")
                        + encode_frame("PING"))
            slow = raw  # never read from again
            await fast.ping()
            while server.stats()["connections"][-1]["patterns"] != [">"]:
                await asyncio.sleep(0.01)
        started = time.perf_counter()
        for i in range(count):
            await pub.publish("burst.x", {**payload, "i": i})
        await pub.ping()
        elapsed = time.perf_counter() - started
        got = [(await sub.get(5)).payload["i"] for _ in range(count)]
        assert got == list(range(count)), "the fast subscriber lost or reordered events"
        reports = []
        while health and not (reports and reports[-1]["dropped"]):
            reports.append((await health_sub.get(2)).payload)
        stats = server.stats()
        if slow is not None:
            slow.close()
        return elapsed, stats, reports


def test_slow_subscriber_neither_slows_others_nor_publisher(sock: Path) -> None:
    count = 5000
    baseline, _, _ = run(_publish_burst(sock, count, with_slow=False))
    elapsed, stats, reports = run(_publish_burst(sock, count, with_slow=True, health=True))
    slow = next(c for c in stats["connections"] if c["name"] == "slow")
    assert slow["dropped"] > 0 and stats["dropped"] == slow["dropped"]
    assert slow["queued"] <= QUEUE
    fast = next(c for c in stats["connections"] if c["name"] == "fast")
    assert fast["dropped"] == 0
    assert elapsed < max(3 * baseline, baseline + 1.0), (elapsed, baseline)
    # the drop counter is also published on system.bus.health
    last = reports[-1]
    assert any(c["name"] == "slow" and c["dropped"] > 0 for c in last["connections"])
    assert last["dropped"] > 0


def test_a_reader_that_never_reads_is_held_to_the_queue_budget(sock: Path) -> None:
    budget = 128 * 1024

    async def scenario() -> dict[str, Any]:
        async with BusServer(sock, queue_bytes=budget, health_interval=0) as server, \
                BusClient(sock, "pub") as pub:
            dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            dead.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            dead.connect(str(sock))
            dead.sendall(encode_frame("HELLO", "dead") + encode_frame("SUB", ">"))
            while not any(c["patterns"] for c in server.stats()["connections"]):
                await asyncio.sleep(0.01)
            for i in range(4000):  # about 4 MiB: far past every buffer
                await pub.publish("burst.x", {"pad": "p" * 1000, "i": i})
            await pub.ping()
            stats = server.stats()
            dead.close()
            return next(c for c in stats["connections"] if c["name"] == "dead")

    dead = run(scenario())
    assert 0 < dead["queued_bytes"] <= budget
    assert dead["dropped"] > 0 and dead["sent"] == 4000


# -- the socket file ---------------------------------------------------------------------------
def test_socket_mode_and_parent_dir(sock: Path) -> None:
    async def scenario() -> None:
        async with BusServer(sock, health_interval=0):
            info = sock.stat()
            assert stat.S_ISSOCK(info.st_mode)
            assert stat.S_IMODE(info.st_mode) == 0o660
            assert sock.parent.is_dir()
        assert not sock.exists()  # removed on stop

    old = os.umask(0)  # a lax umask must not make the socket world-accessible
    try:
        run(scenario())
    finally:
        os.umask(old)


def test_stale_socket_is_replaced(sock: Path) -> None:
    sock.parent.mkdir(parents=True)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(sock))
    stale.close()  # the file stays: nobody listens on it
    assert sock.exists()

    async def scenario() -> None:
        async with BusServer(sock, health_interval=0), BusClient(sock) as client:
            await client.ping()

    run(scenario())


def test_refuses_to_replace_a_live_server(sock: Path) -> None:
    async def scenario() -> None:
        async with BusServer(sock, health_interval=0), BusClient(sock) as client:
            with pytest.raises(BusAlreadyRunning):
                await BusServer(sock).start()
            await client.ping()  # the first server is untouched
            assert sock.exists()

    run(scenario())


def test_refuses_to_replace_a_regular_file(sock: Path) -> None:
    sock.parent.mkdir(parents=True)
    sock.write_text("not a socket")

    async def scenario() -> None:
        with pytest.raises(BusError, match="not a socket"):
            await BusServer(sock).start()

    run(scenario())
    assert sock.read_text() == "not a socket"


def test_stop_says_bye_to_clients(sock: Path) -> None:
    async def scenario() -> None:
        server = BusServer(sock, health_interval=0)
        await server.start()
        raw = await Raw.open(sock)
        await raw.send(encode_frame("PING"))
        assert (await raw.frame()).verb == "PONG"
        await server.stop()
        frames = await raw.until_closed()
        assert [f.verb for f in frames] == ["BYE"]
        assert not sock.exists()

    run(scenario())


def test_event_ids_stay_well_formed_past_ten_hex_digits(sock: Path) -> None:
    async def scenario() -> None:
        async with BusServer(sock, health_interval=0) as server:
            server._seq = 16**10 - 2
            sub, pub = await Raw.open(sock), await Raw.open(sock)
            await sub.send(encode_frame("SUB", "z") + encode_frame("PING"))
            assert (await sub.frame()).verb == "PONG"
            await pub.send(encode_frame("PUB", "z", {"a": 1}) * 3)
            ids = [(await sub.frame()).body["id"] for _ in range(3)]
            assert len(set(ids)) == 3 and len(ids[-1]) == len(ids[0]) + 1
            sub.close()
            pub.close()

    run(scenario())
