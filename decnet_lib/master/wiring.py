"""Connect the master's pipeline to the bus: publish events, wake the watch loop.

Every status transition is published on `topology.<id>.status`; mutation events are
published by the queue itself (after commit). The bus is notification only: when it is
down, publishing is dropped (logged once) and the watch loop falls back to polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from decnet_lib.bus import Bus, get_bus
from decnet_lib.db.status import add_status_listener, remove_status_listener
from decnet_lib.events import publish, set_publisher, topology_status_topic

if TYPE_CHECKING:
    from decnet_lib.settings import Settings

log = logging.getLogger(__name__)
ENQUEUED_PATTERN = "topology.*.mutation.enqueued"


def publish_status(topology_id: str, from_status: str | None, to_status: str,
                   reason: str) -> None:
    """Status listener: `topology.<id>.status` with the move and its reason."""
    publish(topology_status_topic(topology_id),
            {"topology_id": topology_id, "from": from_status, "to": to_status,
             "reason": reason})


def wire_events(settings: Settings | None = None, bus: Bus | None = None
                ) -> Callable[[], None]:
    """Route events to `bus` (default: the settings' bus); returns a function that unwires."""
    bus = bus or get_bus(settings, name="decnet-master")
    set_publisher(lambda topic, payload: bus.publish_sync(topic, payload))
    add_status_listener(publish_status)

    def unwire() -> None:
        remove_status_listener(publish_status)
        set_publisher(None)
        close = getattr(bus, "close_sync", None)
        if close is not None:
            close()

    return unwire


class WakeOnEnqueue:
    """Sets `event` whenever `topology.*.mutation.enqueued` arrives on the bus.

    Runs its own thread and event loop; a bus that is down only means no early wake-ups
    (the client reconnects by itself).
    """

    def __init__(self, event: threading.Event, bus_factory: Callable[[], Any] | None = None,
                 settings: Settings | None = None) -> None:
        self.event = event
        self._bus_factory = bus_factory or (
            lambda: get_bus(settings, name="decnet-reconciler"))
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    def start(self, timeout: float = 5.0) -> WakeOnEnqueue:
        self._thread = threading.Thread(target=self._main, name="wake-on-enqueue", daemon=True)
        self._thread.start()
        self._ready.wait(timeout)
        return self

    def _main(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._task = self._loop.create_task(self._listen())
        with contextlib.suppress(asyncio.CancelledError):
            self._loop.run_until_complete(self._task)
        self._loop.close()

    async def _listen(self) -> None:
        bus = self._bus_factory()
        try:
            subscription = await bus.subscribe(ENQUEUED_PATTERN)
        except Exception as exc:
            log.warning("no early wake-ups: cannot subscribe to the bus (%s)", exc)
            self._ready.set()
            return
        self._ready.set()
        try:
            async for _event in subscription:
                self.event.set()
        except asyncio.CancelledError:
            pass
        finally:
            with contextlib.suppress(Exception):
                await bus.close()

    def stop(self, timeout: float = 2.0) -> None:
        loop, task = self._loop, self._task
        if loop is not None and task is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(task.cancel)
        if self._thread is not None:
            self._thread.join(timeout)
