"""BusClient: the asyncio client of the bus server, with reconnection and a sync publish path.

The client connects in the background on first use and reconnects with exponential backoff
(re-sending HELLO and every SUB) whenever the server goes away. Publishing never raises while
the bus is down: frames wait in a bounded outbox (drop-oldest) and the outage is logged once.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import os
import random
import sys
import threading
import time
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from decnet_lib.bus.errors import BusError, BusUnavailable, ProtocolError
from decnet_lib.bus.events import decode_envelope, envelope_overhead
from decnet_lib.bus.protocol import (
    BYE,
    EVT,
    HELLO,
    MAX_BODY,
    PING,
    PONG,
    PUB,
    SUB,
    UNSUB,
    FrameDecoder,
    encode_body,
    encode_frame,
    encode_header,
    encode_raw,
    pack_length,
)
from decnet_lib.bus.subscription import DEFAULT_MAXSIZE, Subscription
from decnet_lib.bus.topics import SubscriptionIndex, validate_pattern, validate_topic

log = logging.getLogger("decnet.bus")

HIGH_WATER = 256 * 1024
FLUSH_AT = 256
PING_FRAME = encode_frame(PING)
PONG_FRAME = encode_frame(PONG)
_HEADER_CACHE = 4096


def default_name() -> str:
    """`<program>-<pid>`, the HELLO name when none is given."""
    prog = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    if prog in ("", "-c", "-m", "__main__.py"):
        prog = "decnet"
    name = "".join(c if c.isascii() and c.isprintable() and c != " " else "_" for c in prog)
    return f"{name or 'decnet'}-{os.getpid()}"


class _Connection(asyncio.Protocol):
    """One live connection of a BusClient: parses frames in, tracks write pressure."""

    def __init__(self, client: BusClient) -> None:
        self.client = client
        self.transport: asyncio.Transport | None = None
        self.decoder = FrameDecoder()
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.set_write_buffer_limits(high=HIGH_WATER)

    def data_received(self, data: bytes) -> None:
        client = self.client
        try:
            for verb, arg, body, _raw in self.decoder.feed(data):
                if verb == EVT:
                    client._on_event(arg, body)  # type: ignore[arg-type]
                elif verb == PONG:
                    client._on_pong()
                elif verb == BYE:
                    reason = body.get("reason")
                    client._note_outage(f"server said BYE ({reason or 'closing'})")
                    self.close()
                    return
                elif verb == PING:
                    self.write(PONG_FRAME)
                else:
                    raise ProtocolError(f"unexpected {verb} from the server")
            if self.decoder.error is not None:
                raise self.decoder.error
        except ProtocolError as exc:
            log.warning("bus %s: protocol error from the server: %s", client.path, exc.reason)
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.paused = False
        if self.client._conn is self:
            self.client._conn = None  # keep new frames in the outbox from now on
        self.client._resume()
        if not self.lost.done():
            self.lost.set_result(None)

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        self.client._resume()
        self.client._flush()

    def closing(self) -> bool:
        return self.transport is None or self.transport.is_closing()

    def write(self, data: bytes) -> None:
        if not self.closing():
            self.transport.write(data)  # type: ignore[union-attr]

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class BusClient:
    """Async client of the bus on a UNIX socket (one event loop; `publish_sync` from anywhere).

    Use `await connect()` to wait for the server, or just publish/subscribe: the client
    starts itself. Subscriptions survive reconnections. `close()` (or `close_sync()` from
    non-async code) flushes what can be flushed and ends every subscription.
    """

    def __init__(self, path: Path | str, name: str | None = None, *,
                 backoff_initial: float = 0.05, backoff_max: float = 2.0,
                 outbox_size: int = 10_000, sub_queue_size: int = DEFAULT_MAXSIZE,
                 publish_timeout: float = 1.0) -> None:
        self.path = Path(path)
        self.name = name or default_name()
        encode_header(HELLO, self.name)  # refuse an unusable name now
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.outbox_size = max(1, outbox_size)
        self.sub_queue_size = sub_queue_size
        self.publish_timeout = publish_timeout
        self.dropped = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: asyncio.Task[None] | None = None
        self._conn: _Connection | None = None
        self._connected: asyncio.Event | None = None
        self._closing = False  # no new events accepted
        self._stopping = False  # the connection task stops (after close's grace period)
        self._outbox: deque[bytes] = deque()
        self._flush_handle: asyncio.Handle | None = None
        self._resume_fut: asyncio.Future[None] | None = None
        self._subs: dict[str, list[Subscription]] = {}
        self._index: SubscriptionIndex[str] = SubscriptionIndex()
        self._pings: deque[asyncio.Future[None]] = deque()
        self._headers: dict[str, tuple[bytes, int]] = {}
        self._outage_logged = False
        self._outage_drops = 0
        self._thread: threading.Thread | None = None
        self._thread_lock = threading.Lock()
        self._sync_box: deque[bytes] = deque()
        self._sync_wake = False

    # -- public API ------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._conn is not None

    async def connect(self, timeout: float | None = 5.0) -> None:
        """Start the client and wait until it is connected; BusUnavailable after `timeout`."""
        self._bind()
        assert self._connected is not None
        try:
            await asyncio.wait_for(self._connected.wait(), timeout)
        except TimeoutError:
            raise BusUnavailable(f"no bus server answers on {self.path}") from None

    async def hello(self, name: str) -> None:
        """Announce (or change) this client's name."""
        header = encode_header(HELLO, name)
        self.name = name
        self._bind()
        if self._conn is not None:
            self._flush()
            self._conn.write(encode_raw(header, b""))

    async def publish(self, topic: str, payload: Mapping[str, Any] | None = None) -> None:
        """Publish an event; never raises for an unavailable bus (bad input does raise)."""
        frame = self._encode_pub(topic, payload)
        if self._closing:
            return
        if self._loop is None:
            self._bind()
        elif self._loop is not asyncio.get_running_loop():
            self._post(frame)  # the client runs on its own thread
            return
        self._send(frame)
        conn = self._conn
        if conn is not None and conn.paused:
            await self._wait_resume()

    def publish_sync(self, topic: str, payload: Mapping[str, Any] | None = None) -> None:
        """Publish from any thread, without blocking (a bounded buffer, drop-oldest)."""
        frame = self._encode_pub(topic, payload)
        if self._closing:
            return
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if self._loop is None and running is not None:
            self._bind()
        loop = self._loop or self._start_thread()
        if running is loop:
            self._send(frame)
        else:
            self._post(frame)

    async def subscribe(self, pattern: str, maxsize: int | None = None) -> Subscription:
        """Subscribe to `pattern`; the server has the subscription when this returns (if up)."""
        validate_pattern(pattern)
        self._bind(strict=True)
        sub = Subscription(pattern, maxsize=maxsize or self.sub_queue_size,
                           on_close=self._unsubscribe)
        subs = self._subs.setdefault(pattern, [])
        subs.append(sub)
        if len(subs) == 1:
            self._index.add(pattern, pattern)
            if self._conn is not None:
                self._flush()
                self._conn.write(encode_frame(SUB, pattern))
                with contextlib.suppress(BusUnavailable):
                    await self.ping()
        return sub

    async def ping(self, timeout: float = 2.0) -> float:
        """Round trip to the server in seconds; BusUnavailable when it does not answer."""
        self._bind(strict=True)
        conn = self._conn
        if conn is None:
            raise BusUnavailable(f"not connected to the bus at {self.path}")
        assert self._loop is not None
        future: asyncio.Future[None] = self._loop.create_future()
        self._pings.append(future)
        started = time.perf_counter()
        self._flush()
        conn.write(PING_FRAME)
        try:
            await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            raise BusUnavailable(f"the bus at {self.path} did not answer PING") from None
        return time.perf_counter() - started

    async def close(self, grace: float = 0.5) -> None:
        """Flush, say BYE, disconnect, end every subscription. Idempotent.

        Events still waiting for a connection get up to `grace` seconds to be sent.
        """
        if self._closing:
            return
        self._closing = True
        if self._loop is not None and asyncio.get_running_loop() is not self._loop:
            future = asyncio.run_coroutine_threadsafe(self._close_here(grace), self._loop)
            await asyncio.wrap_future(future)
            return
        await self._close_here(grace)

    def close_sync(self, timeout: float = 2.0, grace: float = 0.5) -> None:
        """`close()` from non-async code (stops the client's own thread, if it has one)."""
        with contextlib.suppress(Exception):
            atexit.unregister(self.close_sync)
        loop = self._loop
        if loop is None or loop.is_closed():
            self._closing = True
            return
        try:
            if asyncio.get_running_loop() is loop:
                raise BusError("close_sync() called inside the client's loop: await close()")
        except RuntimeError:
            pass
        self._closing = True
        if loop.is_running():
            future = asyncio.run_coroutine_threadsafe(self._close_here(grace), loop)
            with contextlib.suppress(Exception):
                future.result(timeout)
        if self._thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            self._thread.join(timeout)
            self._thread = None

    async def __aenter__(self) -> BusClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- starting --------------------------------------------------------------------------
    def _bind(self, strict: bool = False) -> None:
        """Attach the client to the running loop and start the connection task."""
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
            self._connected = asyncio.Event()
            self._runner = loop.create_task(self._run(), name=f"bus-client-{self.name}")
        elif self._loop is not loop and strict:
            raise BusError("this BusClient runs on another event loop")

    def _start_thread(self) -> asyncio.AbstractEventLoop:
        """Run the client on a private daemon thread (for purely synchronous users)."""
        with self._thread_lock:
            if self._loop is not None:
                return self._loop
            ready = threading.Event()
            loop = asyncio.new_event_loop()

            def main() -> None:
                asyncio.set_event_loop(loop)

                async def bind() -> None:
                    self._bind()
                    ready.set()

                loop.run_until_complete(bind())
                loop.run_forever()
                with contextlib.suppress(Exception):
                    loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

            self._thread = threading.Thread(target=main, name="decnet-bus", daemon=True)
            self._thread.start()
            ready.wait()
            atexit.register(self.close_sync)
            return loop

    async def _run(self) -> None:
        """Connect, wait for the connection to drop, back off, reconnect; until closed."""
        assert self._loop is not None
        delay = self.backoff_initial
        while not self._stopping:
            try:
                _, conn = await self._loop.create_unix_connection(
                    lambda: _Connection(self), str(self.path))
            except OSError as exc:
                self._note_outage(f"cannot connect: {exc.strerror or exc}")
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))
                delay = min(delay * 2, self.backoff_max)
                continue
            since = time.monotonic()
            self._on_connected(conn)
            try:
                await conn.lost
            finally:
                self._on_disconnected()
            if time.monotonic() - since > 1.0:
                delay = self.backoff_initial
            if not self._stopping:
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))
                delay = min(delay * 2, self.backoff_max)

    def _on_connected(self, conn: _Connection) -> None:
        self._conn = conn
        parts = [encode_frame(HELLO, self.name)]
        parts.extend(encode_frame(SUB, pattern) for pattern in self._subs)
        conn.write(b"".join(parts))
        if self._outage_logged:
            log.info("bus %s is back (%d events dropped meanwhile)", self.path,
                        self._outage_drops)
        self._outage_logged = False
        self._outage_drops = 0
        assert self._connected is not None
        self._connected.set()
        self._flush()

    def _on_disconnected(self) -> None:
        self._conn = None
        if self._connected is not None:
            self._connected.clear()
        while self._pings:
            future = self._pings.popleft()
            if not future.done():
                future.set_exception(BusUnavailable(f"lost the bus at {self.path}"))
                future.exception()  # mark retrieved: nobody may be waiting any more
        if not self._closing:
            self._note_outage("connection lost")

    def _note_outage(self, reason: str) -> None:
        if not self._outage_logged and not self._closing:
            self._outage_logged = True
            log.warning("bus %s unavailable (%s); up to %d events are kept (oldest dropped) "
                        "until it is back", self.path, reason, self.outbox_size)

    async def _close_here(self, grace: float) -> None:
        self._drain_posted()
        if self._outbox and self._conn is None and self._connected is not None and grace > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._connected.wait(), grace)
        self._stopping = True
        conn = self._conn
        if conn is not None:
            self._flush()
            conn.write(encode_frame(BYE))
            conn.close()
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
        for subs in self._subs.values():
            for sub in subs:
                sub.end()
        self._subs.clear()
        self._outbox.clear()
        self._sync_box.clear()

    # -- outgoing --------------------------------------------------------------------------
    def _encode_pub(self, topic: str, payload: Mapping[str, Any] | None) -> bytes:
        """A PUB frame; raises InvalidTopic/ProtocolError for a bad topic or payload."""
        route = self._headers.get(topic)
        if route is None:
            validate_topic(topic)
            route = (encode_header(PUB, topic), MAX_BODY - envelope_overhead(topic))
            if len(self._headers) >= _HEADER_CACHE:
                self._headers.clear()
            self._headers[topic] = route
        header, limit = route
        raw = encode_body(payload)
        if len(raw) > limit:
            raise ProtocolError(
                f"payload of {len(raw)} bytes does not fit an event body of {MAX_BODY} bytes")
        return header + pack_length(len(raw)) + raw

    def _send(self, frame: bytes) -> None:
        """Queue a frame on the loop thread; written once per loop turn (or every FLUSH_AT)."""
        outbox = self._outbox
        if len(outbox) >= self.outbox_size:
            outbox.popleft()
            self.dropped += 1
            self._outage_drops += 1
        outbox.append(frame)
        conn = self._conn
        if conn is None or conn.paused:
            return
        if len(outbox) >= FLUSH_AT:
            self._flush()
        elif self._flush_handle is None:
            assert self._loop is not None
            self._flush_handle = self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_handle = None
        conn = self._conn
        outbox = self._outbox
        if conn is None or conn.paused or not outbox or conn.closing():
            return
        data = outbox[0] if len(outbox) == 1 else b"".join(outbox)
        outbox.clear()
        conn.write(data)

    def _post(self, frame: bytes) -> None:
        """Hand a frame to the loop thread (from any other thread)."""
        box = self._sync_box
        if len(box) >= self.outbox_size:
            with contextlib.suppress(IndexError):
                box.popleft()
                self.dropped += 1
        box.append(frame)
        if self._sync_wake:
            return
        self._sync_wake = True
        assert self._loop is not None
        try:
            self._loop.call_soon_threadsafe(self._drain_posted)
        except RuntimeError:  # the client's loop is gone
            self._sync_wake = False
            box.clear()
            self._note_outage("its event loop is closed")

    def _drain_posted(self) -> None:
        self._sync_wake = False
        box = self._sync_box
        while box:
            try:
                frame = box.popleft()
            except IndexError:
                break
            self._send(frame)

    def _resume(self) -> None:
        future = self._resume_fut
        if future is not None and not future.done():
            future.set_result(None)
        self._resume_fut = None

    async def _wait_resume(self) -> None:
        """Back-pressure for async publishers while the server is slow to read (bounded)."""
        if self._resume_fut is None:
            assert self._loop is not None
            self._resume_fut = self._loop.create_future()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._resume_fut), self.publish_timeout)

    def _unsubscribe(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.pattern)
        if not subs or sub not in subs:
            return
        subs.remove(sub)
        if subs:
            return
        del self._subs[sub.pattern]
        self._index.remove(sub.pattern, sub.pattern)
        if self._conn is not None:
            self._flush()
            self._conn.write(encode_frame(UNSUB, sub.pattern))

    # -- incoming --------------------------------------------------------------------------
    def _on_event(self, topic: str, body: dict[str, Any]) -> None:
        patterns = self._index.match(topic)
        if not patterns:
            return
        event = decode_envelope(topic, body)
        subs_of = self._subs
        for pattern in patterns:
            for sub in subs_of[pattern]:
                sub.push(event)

    def _on_pong(self) -> None:
        while self._pings:
            future = self._pings.popleft()
            if not future.done():
                future.set_result(None)
                return
