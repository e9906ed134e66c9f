"""Subscription: the async iterator of events every bus implementation hands out."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from types import TracebackType

from decnet_lib.bus.events import Event

DEFAULT_MAXSIZE = 10_000


class Subscription:
    """Events matching one pattern, in arrival order; a bounded queue (drop-oldest, counted).

    Iterate with `async for event in sub`, or `await sub.get(timeout)`. The iteration ends when
    the subscription or its bus is closed. Bound to the event loop it was created on;
    `push_threadsafe` may be called from any thread.
    """

    def __init__(self, pattern: str, *, maxsize: int = DEFAULT_MAXSIZE,
                 on_close: Callable[[Subscription], None] | None = None) -> None:
        self.pattern = pattern
        self.dropped = 0
        self._maxsize = max(1, maxsize)
        self._queue: deque[Event] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False
        self._on_close = on_close
        self._loop = asyncio.get_running_loop()

    @property
    def closed(self) -> bool:
        return self._closed

    def pending(self) -> int:
        """Events received and not yet consumed."""
        return len(self._queue)

    def push(self, event: Event) -> None:
        """Queue an event (on the subscription's loop); drops the oldest when full."""
        if self._closed:
            return
        queue = self._queue
        if len(queue) >= self._maxsize:
            queue.popleft()
            self.dropped += 1
        queue.append(event)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def push_threadsafe(self, event: Event) -> None:
        """`push` from any thread (or from the loop itself)."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self.push(event)
            return
        try:
            self._loop.call_soon_threadsafe(self.push, event)
        except RuntimeError:  # its loop is closed: nobody can consume it any more
            self._closed = True

    def end(self) -> None:
        """Stop the iteration (the bus is closing); queued events are discarded."""
        self._closed = True
        self._queue.clear()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def close(self) -> None:
        """Unsubscribe and end the iteration."""
        if self._closed:
            return
        self.end()
        if self._on_close is not None:
            self._on_close(self)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        queue = self._queue
        while not queue:
            if self._closed:
                raise StopAsyncIteration
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return queue.popleft()

    async def get(self, timeout: float | None = None) -> Event:
        """The next event; TimeoutError after `timeout` s, StopAsyncIteration once closed."""
        return await asyncio.wait_for(self.__anext__(), timeout)

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()
