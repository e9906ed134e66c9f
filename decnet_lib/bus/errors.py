"""Errors of the event bus, each with a stable code (see decnet_lib.errors.DecnetError)."""

from __future__ import annotations

from decnet_lib.errors import DecnetError


class BusError(DecnetError):
    """Base of every bus error."""

    code = "BUS_ERROR"


class ProtocolError(BusError):
    """A frame breaks the wire format; `reason` says how. The peer's connection is closed."""

    code = "BUS_PROTOCOL"
    exit_code = 2

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidTopic(ProtocolError):
    """A topic or subscription pattern is not well formed."""

    code = "BUS_TOPIC"


class BusUnavailable(BusError):
    """No bus server answers on the socket (only raised where waiting makes sense)."""

    code = "BUS_UNAVAILABLE"


class BusAlreadyRunning(BusError):
    """Another live server already answers on the socket path."""

    code = "BUS_RUNNING"
