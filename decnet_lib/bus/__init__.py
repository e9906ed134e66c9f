"""The host-local event bus: pub/sub over a UNIX socket (DESIGN.md, "Bus wire format").

`get_bus()` picks the implementation from the environment:

* `DECNET_BUS=unix` (default): `BusClient` on the socket `DECNET_BUS_SOCKET`
  (`Settings.bus_socket`, e.g. /run/decnet/bus.sock for root);
* `DECNET_BUS=fake`: `FakeBus`, in-process (tests; every FakeBus of a process shares one hub);
* `DECNET_BUS=null`: `NullBus`, the bus disabled (publishing is accepted and dropped).

All three implement `Bus`: `publish_sync`, `await publish`, `await subscribe`, `await close`.
Delivery is at-most-once and a client never receives its own events.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from decnet_lib.bus.base import Bus
from decnet_lib.bus.client import BusClient
from decnet_lib.bus.errors import (
    BusAlreadyRunning,
    BusError,
    BusUnavailable,
    InvalidTopic,
    ProtocolError,
)
from decnet_lib.bus.events import Event
from decnet_lib.bus.fake import DEFAULT_HUB, FakeBus, FakeHub, NullBus
from decnet_lib.bus.subscription import Subscription
from decnet_lib.bus.topics import matches, validate_pattern, validate_topic
from decnet_lib.settings import get_settings

if TYPE_CHECKING:
    from decnet_lib.settings import Settings

BUS_ENV = "DECNET_BUS"
BUS_KINDS = ("unix", "fake", "null")

__all__ = [
    "BUS_ENV",
    "DEFAULT_HUB",
    "Bus",
    "BusAlreadyRunning",
    "BusClient",
    "BusError",
    "BusUnavailable",
    "Event",
    "FakeBus",
    "FakeHub",
    "InvalidTopic",
    "NullBus",
    "ProtocolError",
    "Subscription",
    "get_bus",
    "matches",
    "validate_pattern",
    "validate_topic",
]


def get_bus(settings: Settings | None = None, name: str | None = None) -> Bus:
    """The bus chosen by DECNET_BUS (unix | fake | null), on `settings.bus_socket` for unix."""
    settings = settings or get_settings()
    kind = (settings.bus or "unix").strip().lower()
    if kind == "unix":
        return BusClient(settings.bus_socket, name)
    if kind == "fake":
        return FakeBus(name=name or "fake")
    if kind == "null":
        return NullBus()
    raise BusError(f"{BUS_ENV}={kind!r} is not one of {', '.join(BUS_KINDS)}")
