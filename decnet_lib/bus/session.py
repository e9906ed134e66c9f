"""One client connection on the server: frame parsing in, a bounded batched queue out."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import TYPE_CHECKING, Any

from decnet_lib.bus.errors import ProtocolError
from decnet_lib.bus.protocol import (
    BYE,
    EVT,
    HELLO,
    PING,
    PONG,
    PUB,
    SUB,
    UNSUB,
    FrameDecoder,
    encode_frame,
)

if TYPE_CHECKING:
    from decnet_lib.bus.server import BusServer

log = logging.getLogger("decnet.bus")

PONG_FRAME = encode_frame(PONG)
HIGH_WATER = 256 * 1024
FLUSH_AT = 256  # queued frames that trigger an immediate write instead of waiting for the tick


class Session(asyncio.Protocol):
    """A connected client: reads frames, hands them to the server, writes its events.

    Outgoing events go to a per-session queue that is written as one batch per loop turn (or
    every FLUSH_AT frames). While the socket is backed up (the transport paused writing), the
    queue is bounded by `queue_size` frames and `queue_bytes` bytes and drops its oldest frames,
    counting them, so a slow reader never blocks the publisher or the other subscribers.
    """

    def __init__(self, server: BusServer, sid: int, queue_size: int, queue_bytes: int) -> None:
        self.server = server
        self.sid = sid
        self.name = f"conn-{sid}"
        self.patterns: set[str] = set()
        self.sent = 0
        self.dropped = 0
        self._queue_size = queue_size
        self._queue_bytes = queue_bytes
        self._queue: deque[bytes] = deque()
        self._qbytes = 0
        self._paused = False
        self._closed = False
        self._flush_handle: asyncio.Handle | None = None
        self._decoder = FrameDecoder()
        self._loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None

    # -- asyncio.Protocol ------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.set_write_buffer_limits(high=HIGH_WATER)
        self.server.attach(self)

    def data_received(self, data: bytes) -> None:
        if self._closed:
            return
        server = self.server
        try:
            frames = self._decoder.feed(data)
            stamp = server.stamp()  # one time stamp per read batch
            for verb, arg, _body, raw in frames:
                if verb == PUB:
                    server.publish(self, arg, raw, stamp)  # type: ignore[arg-type]
                elif verb == SUB:
                    server.subscribe(self, arg)  # type: ignore[arg-type]
                elif verb == UNSUB:
                    server.unsubscribe(self, arg)  # type: ignore[arg-type]
                elif verb == PING:
                    self.send_control(PONG_FRAME)
                elif verb == HELLO:
                    self.name = arg or self.name
                elif verb == BYE:
                    self.close()
                    return
                elif verb == EVT:
                    raise ProtocolError("EVT is sent by the server only")
                if self._closed:
                    return
            if self._decoder.error is not None:
                raise self._decoder.error
        except ProtocolError as exc:
            self.fail(exc.reason)

    def eof_received(self) -> bool | None:
        try:
            self._decoder.close()
        except ProtocolError as exc:
            log.warning("bus client %s (%s): %s", self.sid, self.name, exc.reason)
            self.server.protocol_errors += 1
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        self._queue.clear()
        self.server.detach(self)

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        self.flush()

    # -- outgoing --------------------------------------------------------------------------
    def deliver(self, frame: bytes) -> None:
        """Queue an event frame; flushed at the end of this loop turn."""
        queue = self._queue
        if self._paused:
            while queue and (len(queue) >= self._queue_size or self._qbytes >= self._queue_bytes):
                self._qbytes -= len(queue.popleft())
                self.dropped += 1
                self.server.dropped += 1
        queue.append(frame)
        self._qbytes += len(frame)
        self.sent += 1
        if self._paused:
            return
        if len(queue) >= FLUSH_AT:
            self.flush()
        elif self._flush_handle is None:
            self._flush_handle = self._loop.call_soon(self.flush)

    def send_control(self, frame: bytes) -> None:
        """Write a control frame now (never dropped); after queued events unless backed up."""
        if self._closed or self.transport is None:
            return
        if not self._paused:
            self.flush()
        self.transport.write(frame)

    def flush(self) -> None:
        """Write every queued frame in one call (unless the socket is backed up)."""
        self._flush_handle = None
        queue = self._queue
        if self._paused or self._closed or not queue or self.transport is None:
            return
        data = queue[0] if len(queue) == 1 else b"".join(queue)
        queue.clear()
        self._qbytes = 0
        self.transport.write(data)

    def queued(self) -> int:
        return len(self._queue)

    # -- closing ---------------------------------------------------------------------------
    def fail(self, reason: str) -> None:
        """Close this connection after a protocol error (the others are untouched)."""
        log.warning("bus client %s (%s): protocol error: %s", self.sid, self.name, reason)
        self.server.protocol_errors += 1
        self.close(reason)

    def close(self, reason: str | None = None) -> None:
        """Say BYE (with the reason, if any), flush, and close the connection."""
        if self._closed or self.transport is None:
            return
        self._paused = False
        self.flush()
        self._closed = True
        self.server.detach(self)
        body: dict[str, Any] | None = {"reason": reason} if reason else None
        transport = self.transport
        transport.write(encode_frame(BYE, None, body))
        transport.close()
        # a peer that never reads would keep the buffered bytes (and the fd) forever
        self._loop.call_later(1.0, transport.abort)
