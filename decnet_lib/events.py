"""Event topics and the process-wide publisher (the bus is notification only).

`publish()` never raises into the caller. Until `set_publisher` is called (the CLI wires
`get_bus()` there), events go nowhere.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

Publisher = Callable[[str, dict[str, Any]], Any]


def _drop(topic: str, payload: dict[str, Any]) -> None:
    return None


_publisher: Publisher = _drop


def set_publisher(publisher: Publisher | None) -> None:
    """Route every event to `publisher(topic, payload)`; None disables publishing."""
    global _publisher
    _publisher = publisher or _drop


def publish(topic: str, payload: dict[str, Any]) -> None:
    """Publish an event; failures are logged, never raised."""
    try:
        _publisher(topic, payload)
    except Exception:  # notification only: the database stays the source of truth
        log.warning("could not publish %s", topic, exc_info=True)


def topology_status_topic(topology_id: str) -> str:
    return f"topology.{topology_id}.status"


def mutation_topic(topology_id: str, state: str) -> str:
    """`topology.<id>.mutation.<enqueued|applying|applied|failed>`."""
    return f"topology.{topology_id}.mutation.{state}"


def decky_state_topic(decky: str) -> str:
    return f"decky.{decky}.state"


def worker_health_topic(worker: str) -> str:
    return f"system.{worker}.health"


SYSTEM_LOG_TOPIC = "system.log"
