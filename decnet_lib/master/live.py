"""Live events for the dashboard: status changes, mutations, decky states and attacks from
the bus, merged into one stream with a keep-alive tick (`None`) when nothing happens.

The bus is notification only: a stream that starts while the bus is down receives nothing
but ticks until the client reconnects by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from decnet_lib.bus import Bus, Event, Subscription

STREAM_PATTERNS = ("topology.>", "decky.>", "attack.>")
"""`topology.<id>.status`, `topology.<id>.mutation.<state>`, `decky.<name>.state`,
`attack.<topology_id>.<decky>.<service>`."""


def event_kind(topic: str) -> str:
    """The SSE event name of a topic: status, mutation, decky or attack."""
    tokens = topic.split(".")
    if tokens[0] == "topology" and len(tokens) > 2 and tokens[2] in ("status", "mutation"):
        return tokens[2]
    return tokens[0]


async def _pump(subscription: Subscription, queue: asyncio.Queue[Event]) -> None:
    async for event in subscription:
        await queue.put(event)


async def live_events(bus: Bus, keepalive: float,
                      patterns: tuple[str, ...] = STREAM_PATTERNS
                      ) -> AsyncIterator[Event | None]:
    """Every event matching `patterns` as it arrives; `None` after `keepalive` quiet seconds.

    Subscriptions are dropped when the consumer stops (closes or cancels the iterator).
    """
    queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=1000)
    subscriptions = [await bus.subscribe(pattern) for pattern in patterns]
    pumps = [asyncio.create_task(_pump(sub, queue)) for sub in subscriptions]
    try:
        while True:
            try:
                yield await asyncio.wait_for(queue.get(), keepalive)
            except TimeoutError:
                yield None
    finally:
        for pump in pumps:
            pump.cancel()
        for subscription in subscriptions:
            with contextlib.suppress(Exception):
                await subscription.close()
