"""The pipeline on a real bus: status and mutation events, and the watch loop's wake-up."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import sample_resolved, store_live
from sqlalchemy import Engine

from decnet_lib.bus import BusClient
from decnet_lib.db import Mutation, new_session
from decnet_lib.master.wiring import WakeOnEnqueue, wire_events
from decnet_lib.mutations.queue import enqueue_mutation
from decnet_lib.mutations.reconciler import run_watch_loop

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def bus_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A real `decnet bus serve` process on a socket of this test."""
    path = tmp_path / "bus.sock"
    process = subprocess.Popen(
        [sys.executable, "-m", "decnet_lib.cli", "bus", "serve", "--socket", str(path)],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not path.exists():
            assert process.poll() is None and time.monotonic() < deadline, "bus did not start"
            time.sleep(0.02)
        monkeypatch.setenv("DECNET_BUS_SOCKET", str(path))
        monkeypatch.setenv("DECNET_BUS", "unix")
        yield path
    finally:
        process.terminate()
        process.wait(timeout=10)


class Recorder:
    """Subscribes to a pattern on its own thread and records (topic, payload)."""

    def __init__(self, path: Path, pattern: str) -> None:
        self.events: list[tuple[str, dict]] = []
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_until_complete,
                                        args=(self._run(path, pattern),), daemon=True)
        self._thread.start()
        assert self._ready.wait(5)

    async def _run(self, path: Path, pattern: str) -> None:
        client = BusClient(path, "recorder")
        await client.connect()
        subscription = await client.subscribe(pattern)
        self._stop = asyncio.Event()
        self._ready.set()
        while not self._stop.is_set():
            try:
                event = await subscription.get(timeout=0.1)
            except TimeoutError:
                continue
            self.events.append((event.topic, event.payload))
        await client.close()

    def topics(self, timeout: float = 5.0, want: int = 0) -> list[str]:
        deadline = time.monotonic() + timeout
        while len(self.events) < want and time.monotonic() < deadline:
            time.sleep(0.02)
        return [topic for topic, _ in self.events]

    def close(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(5)


def test_status_and_mutation_events_reach_subscribers(bus_socket: Path, engine: Engine) -> None:
    recorder = Recorder(bus_socket, "topology.>")
    unwire = wire_events()
    try:
        with new_session(engine) as session:
            row = store_live(session, sample_resolved())
            session.commit()
            enqueue_mutation(session, "acme", "add_decky", {"name": "x1", "lan": "office"})
            session.commit()
        topics = recorder.topics(want=4)
    finally:
        unwire()
        recorder.close()
    assert topics[:3] == [f"topology.{row.id}.status"] * 3
    assert [p["to"] for _, p in recorder.events[:3]] == ["pending", "deploying", "active"]
    assert topics[3] == f"topology.{row.id}.mutation.enqueued"


def test_watch_loop_wakes_on_enqueue_long_before_its_poll_interval(
    bus_socket: Path, engine: Engine
) -> None:
    with new_session(engine) as session:
        store_live(session, sample_resolved())
        session.commit()
    wake, stop = threading.Event(), threading.Event()
    waker = WakeOnEnqueue(wake).start()
    loop = threading.Thread(target=run_watch_loop, args=(engine,),
                            kwargs={"interval": 30.0, "wake": wake, "stop": stop}, daemon=True)
    loop.start()
    unwire = wire_events()
    try:
        time.sleep(0.3)  # the loop has done its first tick and waits 30 s
        started = time.monotonic()
        with new_session(engine) as session:
            mutation_id = enqueue_mutation(session, "acme", "add_decky",
                                           {"name": "x1", "lan": "office"}).id
            session.commit()
        while time.monotonic() - started < 10:
            with new_session(engine) as session:
                if session.get_one(Mutation, mutation_id).state == "applied":
                    break
            time.sleep(0.01)
        elapsed = time.monotonic() - started
    finally:
        unwire()
        stop.set()
        wake.set()
        loop.join(10)
        waker.stop()
    assert elapsed < 3.0, f"applied after {elapsed:.2f}s: the bus did not wake the loop"
