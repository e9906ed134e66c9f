"""In-process buses: FakeBus (for tests, same semantics as the server) and NullBus (disabled)."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from decnet_lib.bus.events import Event, check_payload_size, new_event_id
from decnet_lib.bus.protocol import decode_body, encode_body
from decnet_lib.bus.subscription import DEFAULT_MAXSIZE, Subscription
from decnet_lib.bus.topics import SubscriptionIndex, validate_pattern, validate_topic


class FakeHub:
    """The shared "server" of FakeBus clients in one process (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._index: SubscriptionIndex[Subscription] = SubscriptionIndex()
        self._owner: dict[Subscription, FakeBus] = {}
        self.published = 0

    def add(self, owner: FakeBus, sub: Subscription) -> None:
        with self._lock:
            self._index.add(sub.pattern, sub)
            self._owner[sub] = owner

    def remove(self, sub: Subscription) -> None:
        with self._lock:
            self._index.remove(sub.pattern, sub)
            self._owner.pop(sub, None)

    def deliver(self, sender: FakeBus, topic: str, raw: bytes) -> None:
        """Route one published payload to every matching subscription of other clients."""
        with self._lock:
            self.published += 1
            targets = [sub for sub in self._index.match(topic) if self._owner[sub] is not sender]
        if not targets:
            return
        event_id, ts = new_event_id(), time.time()
        for sub in targets:
            # every subscriber gets its own copy of the payload, as if it came over the wire
            sub.push_threadsafe(Event(topic, decode_body(raw), event_id, ts))

    def reset(self) -> None:
        """Forget every subscription (between tests)."""
        with self._lock:
            for sub in list(self._owner):
                sub.end()
            self._index = SubscriptionIndex()
            self._owner.clear()
            self.published = 0


DEFAULT_HUB = FakeHub()


class FakeBus:
    """An in-process client of a FakeHub: same topics, wildcards, payload rules, no echo."""

    def __init__(self, hub: FakeHub | None = None, name: str = "fake") -> None:
        self.hub = hub or DEFAULT_HUB
        self.name = name
        self._subs: list[Subscription] = []
        self._closed = False

    def publish_sync(self, topic: str, payload: Mapping[str, Any] | None = None) -> None:
        validate_topic(topic)
        raw = encode_body(payload)
        check_payload_size(topic, raw)
        if not self._closed:
            self.hub.deliver(self, topic, raw)

    async def publish(self, topic: str, payload: Mapping[str, Any] | None = None) -> None:
        self.publish_sync(topic, payload)

    async def subscribe(self, pattern: str, maxsize: int | None = None) -> Subscription:
        validate_pattern(pattern)
        sub = Subscription(pattern, maxsize=maxsize or DEFAULT_MAXSIZE, on_close=self._drop)
        if self._closed:
            sub.end()
            return sub
        self._subs.append(sub)
        self.hub.add(self, sub)
        return sub

    def _drop(self, sub: Subscription) -> None:
        self.hub.remove(sub)
        if sub in self._subs:
            self._subs.remove(sub)

    async def close(self) -> None:
        self._closed = True
        for sub in list(self._subs):
            await sub.close()


class NullBus:
    """The disabled bus: publishing is accepted and dropped; subscriptions never yield."""

    def __init__(self) -> None:
        self._subs: list[Subscription] = []

    def publish_sync(self, topic: str, payload: Mapping[str, Any] | None = None) -> None:
        validate_topic(topic)  # the same programmer errors as the real bus
        check_payload_size(topic, encode_body(payload))

    async def publish(self, topic: str, payload: Mapping[str, Any] | None = None) -> None:
        self.publish_sync(topic, payload)

    async def subscribe(self, pattern: str, maxsize: int | None = None) -> Subscription:
        validate_pattern(pattern)
        sub = Subscription(pattern, maxsize=1, on_close=self._subs.remove)
        self._subs.append(sub)
        return sub

    async def close(self) -> None:
        for sub in list(self._subs):
            await sub.close()
