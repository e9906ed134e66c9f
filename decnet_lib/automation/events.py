"""Backend of `decnet.mazenet.decnet_events_info`: attacker events and attackers."""

from __future__ import annotations

from typing import Any

from decnet_lib.automation.connection import Connection
from decnet_lib.automation.errors import AutomationError, from_decnet_error
from decnet_lib.errors import DecnetError
from decnet_lib.master.attackers import events_report

DEFAULT_LIMIT = 1000


def events_info(connection: Connection, *, topology: str | None = None,
                attacker: str | None = None, since: str | None = None,
                limit: int = DEFAULT_LIMIT) -> dict[str, Any]:
    """The ingested events and the attackers they make, filtered; never writes (a database
    that does not exist yet holds no events)."""
    if limit < 1:
        raise AutomationError(f"limit must be 1 or more, got {limit}", code="USAGE")
    try:
        report = events_report(connection.settings, topology=topology, attacker=attacker,
                               since=since, limit=limit)
    except DecnetError as exc:
        raise from_decnet_error(exc) from None
    return {"changed": False, **report}
