"""The interface every bus implementation offers (BusClient, FakeBus, NullBus)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from decnet_lib.bus.subscription import Subscription


@runtime_checkable
class Bus(Protocol):
    """Fire-and-forget pub/sub: at-most-once, no echo to the publishing client."""

    def publish_sync(self, topic: str, payload: Mapping[str, Any] | None = None) -> None:
        """Publish from any thread without blocking; never raises for an unavailable bus."""
        ...

    async def publish(self, topic: str, payload: Mapping[str, Any] | None = None) -> None:
        """Publish from async code; never raises for an unavailable bus."""
        ...

    async def subscribe(self, pattern: str, maxsize: int | None = None) -> Subscription:
        """An async iterator of the events matching `pattern` (`*` one token, `>` the rest)."""
        ...

    async def close(self) -> None:
        """Release the bus; ends every subscription."""
        ...
