"""The bus server: an asyncio UNIX-socket pub/sub hub (DESIGN.md, "Bus wire format").

Delivery is at-most-once; a publisher never gets its own events; each subscriber has a bounded
drop-oldest queue whose drops are counted in `stats()` and in the periodic `system.bus.health`
event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections import deque
from pathlib import Path
from typing import Any

from decnet_lib.bus.errors import ProtocolError
from decnet_lib.bus.events import (
    envelope_overhead,
    envelope_prefix,
    envelope_stamp,
    new_id_prefix,
)
from decnet_lib.bus.protocol import EVT, MAX_BODY, encode_body, encode_header, pack_length
from decnet_lib.bus.session import Batch, Session
from decnet_lib.bus.socketfile import SOCKET_GROUP, bind_socket, remove_socket
from decnet_lib.bus.topics import SubscriptionIndex, validate_pattern, validate_topic

log = logging.getLogger("decnet.bus")

HEALTH_TOPIC = "system.bus.health"
DEFAULT_QUEUE_SIZE = 4096
DEFAULT_QUEUE_BYTES = 256 * 1024
"""The per-subscriber queue budget: events waiting for a slow reader beyond what its socket
and the transport's 64 KiB write buffer hold; the oldest are dropped (counted) past it."""
DEFAULT_HEALTH_INTERVAL = 10.0
_ROUTE_CACHE = 4096
FLUSH_SLICE = 0.002
"""Seconds of socket writes per loop turn: then the loop reads again (publishers first)."""


class BusServer:
    """Accepts clients on a UNIX socket and routes PUB frames to matching subscribers."""

    def __init__(self, path: Path | str, *, queue_size: int = DEFAULT_QUEUE_SIZE,
                 queue_bytes: int = DEFAULT_QUEUE_BYTES,
                 health_interval: float = DEFAULT_HEALTH_INTERVAL,
                 group: str = SOCKET_GROUP) -> None:
        self.path = Path(path)
        self.queue_size = queue_size
        self.queue_bytes = queue_bytes
        self.health_interval = health_interval
        self.group = group
        self.published = 0
        self.delivered = 0
        self.dropped = 0
        self.protocol_errors = 0
        self._index: SubscriptionIndex[Session] = SubscriptionIndex()
        self._routes: dict[str, tuple[bytes, bytes, int, tuple[Session, ...]]] = {}
        self._id_prefix = new_id_prefix()
        self._seq = 0
        self._sessions: dict[int, Session] = {}
        self._next_sid = 0
        self._server: asyncio.AbstractServer | None = None
        self._inode = 0
        self._started = 0.0
        self._health_task: asyncio.Task[None] | None = None
        self._to_flush: deque[Session] = deque()
        self._flush_handle: asyncio.Handle | None = None

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        """Bind the socket (replacing a stale file, refusing a live server) and listen."""
        sock = bind_socket(self.path, self.group)
        self._inode = self.path.lstat().st_ino
        loop = asyncio.get_running_loop()
        self._server = await loop.create_unix_server(self._new_session, sock=sock, backlog=1024)
        self._started = time.time()
        if self.health_interval > 0:
            self._health_task = loop.create_task(self._health_loop())
        log.info("bus listening on %s", self.path)

    async def stop(self) -> None:
        """Stop listening, say BYE to every client, and remove the socket file."""
        if self._health_task is not None:
            self._health_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._health_task
            self._health_task = None
        if self._server is not None:
            self._server.close()
            remove_socket(self.path, self._inode)
            for session in list(self._sessions.values()):
                session.close("server shutting down")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
            self._server = None
            log.info("bus stopped")

    async def __aenter__(self) -> BusServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _new_session(self) -> Session:
        self._next_sid += 1
        return Session(self, self._next_sid, self.queue_size, self.queue_bytes)

    # -- called by sessions ----------------------------------------------------------------
    def attach(self, session: Session) -> None:
        self._sessions[session.sid] = session

    def detach(self, session: Session) -> None:
        if self._sessions.pop(session.sid, None) is not None and session.patterns:
            self._index.remove_all(session, session.patterns)
            session.patterns.clear()
            self._routes.clear()

    def want_flush(self, session: Session) -> None:
        """Write `session`'s queue in a coming flush round."""
        if session.flush_pending:
            return
        session.flush_pending = True
        self._to_flush.append(session)
        if self._flush_handle is None:
            self._flush_handle = asyncio.get_running_loop().call_soon(self._flush_round)

    def _flush_round(self) -> None:
        """Write queued events, subscriber by subscriber, for at most FLUSH_SLICE seconds;
        the rest goes on at the next loop turn, after the loop has read its sockets again,
        so that many subscribers never hold a publisher up for long."""
        self._flush_handle = None
        todo = self._to_flush
        deadline = time.perf_counter() + FLUSH_SLICE
        while todo:
            todo.popleft().flush()
            if time.perf_counter() > deadline:
                break
        if todo:
            self._flush_handle = asyncio.get_running_loop().call_soon(self._flush_round)

    def subscribe(self, session: Session, pattern: str) -> None:
        validate_pattern(pattern)
        if self._index.add(pattern, session):
            session.patterns.add(pattern)
            self._routes.clear()

    def unsubscribe(self, session: Session, pattern: str) -> None:
        validate_pattern(pattern)
        if self._index.remove(pattern, session):
            session.patterns.discard(pattern)
            self._routes.clear()

    def _route(self, topic: str) -> tuple[bytes, bytes, int, tuple[Session, ...]]:
        """EVT header, envelope head, payload limit and subscribers of `topic` (cached)."""
        validate_topic(topic)
        route = (encode_header(EVT, topic), envelope_prefix(topic, self._id_prefix),
                 MAX_BODY - envelope_overhead(topic), self._index.match(topic))
        if len(self._routes) >= _ROUTE_CACHE:
            self._routes.clear()
        self._routes[topic] = route
        return route

    def stamp(self) -> bytes:
        """The time stamp part of the events of one read batch (see envelope_stamp)."""
        return envelope_stamp(time.time())

    def publish(self, sender: Session | None, topic: str, raw: bytes, stamp: bytes) -> None:
        """Deliver one PUB (raw payload JSON, already validated) to every other subscriber."""
        self.publish_batch(sender, [(topic, raw)], stamp)

    def publish_batch(self, sender: Session | None, items: list[tuple[str, bytes]],
                      stamp: bytes) -> None:
        """Deliver consecutive PUBs of one read: each subscriber gets each run of frames of
        one topic in one call, so fan-out costs one step per subscriber per run, not per
        frame (a subscriber that never reads costs the publisher almost nothing)."""
        start = 0
        while start < len(items):
            topic = items[start][0]
            end = start + 1
            while end < len(items) and items[end][0] == topic:
                end += 1
            self._publish_run(sender, topic, items[start:end], stamp)
            start = end

    def _publish_run(self, sender: Session | None, topic: str, items: list[tuple[str, bytes]],
                     stamp: bytes) -> None:
        route = self._routes.get(topic) or self._route(topic)
        header, prefix, limit, targets = route
        for _topic, raw in items:
            if len(raw) > limit:
                raise ProtocolError(f"payload of {len(raw)} bytes does not fit an event body")
        self.published += len(items)
        if not targets or (len(targets) == 1 and targets[0] is sender):
            return
        frames = []
        for _topic, raw in items:
            self._seq += 1
            raw = raw or b"{}"
            id_suffix = b"%010x" % self._seq
            length = len(prefix) + len(id_suffix) + len(stamp) + len(raw) + 1  # + the "}"
            frames.append(b"".join((header, pack_length(length), prefix, id_suffix, stamp, raw,
                                    b"}")))
        batches = Batch.chunks(frames)
        count = 0
        for session in targets:
            if session is not sender:
                session.deliver(batches)
                count += 1
        self.delivered += count * len(frames)

    def publish_local(self, topic: str, payload: dict[str, Any]) -> None:
        """Publish an event from the server itself (e.g. health)."""
        self.publish(None, topic, encode_body(payload), self.stamp())

    # -- health ----------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Counters for the whole bus and for each connected client."""
        return {
            "socket": str(self.path),
            "uptime": round(time.time() - self._started, 3) if self._started else 0.0,
            "clients": len(self._sessions),
            "published": self.published,
            "delivered": self.delivered,
            "dropped": self.dropped,
            "protocol_errors": self.protocol_errors,
            "connections": [
                {"id": s.sid, "name": s.name, "patterns": sorted(s.patterns), "sent": s.sent,
                 "dropped": s.dropped, "queued": s.queued(), "queued_bytes": s.queued_bytes()}
                for s in self._sessions.values()
            ],
        }

    async def _health_loop(self) -> None:
        while True:
            await asyncio.sleep(self.health_interval)
            try:
                self.publish_local(HEALTH_TOPIC, self.stats())
            except Exception:  # never let health reporting kill the server
                log.exception("publishing bus health failed")


async def run_until_signal(server: BusServer) -> None:
    """Run `server` until SIGTERM or SIGINT, then shut it down cleanly."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals = (signal.SIGTERM, signal.SIGINT)
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    try:
        await server.start()
        await stop.wait()
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
        await server.stop()
