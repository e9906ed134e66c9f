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
HIGH_WATER = 256 * 1024  # the transport's write buffer per client, on top of the queue budget
SOCKET_BUFFER = 64 * 1024  # the kernel's send buffer per client
WRITE_CHUNK = 64 * 1024  # what one flush writes: a dead reader costs one small copy a turn


class Batch:
    """Event frames of one run of PUBs for every subscriber of their topic: joined once,
    the bytes are shared by every subscriber that writes them."""

    __slots__ = ("_data", "frames", "nbytes")

    def __init__(self, frames: tuple[bytes, ...], nbytes: int) -> None:
        self.frames = frames
        self.nbytes = nbytes
        self._data: bytes | None = None

    @property
    def data(self) -> bytes:
        if self._data is None:
            self._data = self.frames[0] if len(self.frames) == 1 else b"".join(self.frames)
        return self._data

    @classmethod
    def chunks(cls, frames: list[bytes]) -> list[Batch]:
        """The frames of one run as batches of at most WRITE_CHUNK bytes (a bigger frame
        stands alone)."""
        out: list[Batch] = []
        start, size = 0, 0
        for index, frame in enumerate(frames):
            if size and size + len(frame) > WRITE_CHUNK:
                out.append(cls(tuple(frames[start:index]), size))
                start, size = index, 0
            size += len(frame)
        out.append(cls(tuple(frames[start:]), size))
        return out


class Session(asyncio.Protocol):
    """A connected client: reads frames, hands them to the server, writes its events.

    Consecutive PUB frames of one read are published together, and each subscriber gets
    them as shared batches of at most WRITE_CHUNK bytes, written one per loop turn. What
    waits for a slow reader is bounded by `queue_size` frames and `queue_bytes` bytes (the
    per-subscriber queue budget) on top of its kernel buffer (SOCKET_BUFFER) and the
    transport's high-water mark (HIGH_WATER); past it the oldest batches are dropped and
    counted, so a reader that never reads neither blocks the publisher nor grows the bus.
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
        self._queue: deque[Batch] = deque()
        self._qframes = 0
        self._qbytes = 0
        self._paused = False
        self._closed = False
        self.flush_pending = False  # queued on the server's flush round
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
            pubs: list[tuple[str, bytes]] = []
            for verb, arg, _body, raw in frames:
                if verb == PUB:
                    pubs.append((arg, raw))  # type: ignore[arg-type]
                    continue
                if pubs:  # keep the order: what was published before this frame goes first
                    server.publish_batch(self, pubs, stamp)
                    pubs = []
                if verb == SUB:
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
            if pubs:
                server.publish_batch(self, pubs, stamp)
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
        self._queue.clear()
        self.server.detach(self)

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        self.server.want_flush(self)

    # -- outgoing --------------------------------------------------------------------------
    def deliver(self, batches: list[Batch]) -> None:
        """Queue batches of event frames; written from the next loop turn on. Past the
        queue budget the oldest queued batches are dropped (counted): O(1) per batch."""
        queue = self._queue
        dropped = 0
        for batch in batches:
            queue.append(batch)
            self._qframes += len(batch.frames)
            self._qbytes += batch.nbytes
            self.sent += len(batch.frames)
        while self._paused and len(queue) > 1 and (self._qframes > self._queue_size
                                                   or self._qbytes > self._queue_bytes):
            old = queue.popleft()
            self._qframes -= len(old.frames)
            self._qbytes -= old.nbytes
            dropped += len(old.frames)
        if dropped:
            self.dropped += dropped
            self.server.dropped += dropped
        if not self._paused:
            self.server.want_flush(self)

    def send_control(self, frame: bytes) -> None:
        """Write a control frame now (never dropped); after queued events unless backed up."""
        if self._closed or self.transport is None:
            return
        if not self._paused:
            self._flush_all()
        self.transport.write(frame)

    def flush(self) -> None:
        """Write the queued batches, one shared chunk at a time, until the socket backs up
        (the transport pauses us): a reader that stopped reading then pins at most its
        kernel buffer and the transport's high-water mark, and what follows waits in the
        budgeted queue instead of being copied into the transport's buffer."""
        self.flush_pending = False
        queue = self._queue
        if self._closed or self.transport is None:
            return
        write = self.transport.write
        while queue and not self._paused:
            batch = queue.popleft()
            self._qframes -= len(batch.frames)
            self._qbytes -= batch.nbytes
            write(batch.data)

    def _flush_all(self) -> None:
        """Write everything queued now (before a control frame or BYE)."""
        queue = self._queue
        if self._paused or self._closed or not queue or self.transport is None:
            return
        data = b"".join(batch.data for batch in queue)
        queue.clear()
        self._qframes = self._qbytes = 0
        self.transport.write(data)

    def queued(self) -> int:
        return self._qframes

    def queued_bytes(self) -> int:
        return self._qbytes

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
        self._flush_all()
        self._closed = True
        self.server.detach(self)
        body: dict[str, Any] | None = {"reason": reason} if reason else None
        transport = self.transport
        transport.write(encode_frame(BYE, None, body))
        transport.close()
        # a peer that never reads would keep the buffered bytes (and the fd) forever
        self._loop.call_later(1.0, transport.abort)
