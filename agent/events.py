"""`GET /events`: the events the agent's collector journalled, after a sequence number.

    GET /events?after=SEQ&limit=N&wait=S&epoch=E
    -> {"epoch": E', "events": [{"seq": n, ...event}], "last": n_or_after}

Long-polled: with nothing newer than `after`, the answer waits up to `wait` seconds (checking
the journal file, which the collector may write from another thread or process) and returns
an empty list when nothing came. When `epoch` is given and is not the journal's (the file was
made again), reading starts from the beginning: the master compares the epoch it receives.
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from agent.deps import get_agent_settings
from agent.errors import AgentProblem
from agent.openapi import problem
from decnet_lib.logs.journal import EventJournal
from decnet_lib.settings import Settings

MAX_LIMIT = 5000
MAX_WAIT_S = 30.0
POLL_S = 0.05
"""How often a long poll looks at the journal (a cheap indexed read)."""

router = APIRouter()
_journals: dict[Path, EventJournal] = {}
_journals_lock = threading.Lock()


def journal_for(settings: Settings) -> EventJournal:
    """The journal at DECNET_AGENT_EVENTS_FILE, opened once per process."""
    path = Path(settings.agent_events_file or "")
    with _journals_lock:
        journal = _journals.get(path)
        if journal is None:
            try:
                journal = EventJournal(path)
            except Exception as exc:
                raise AgentProblem(503, "JOURNAL_UNAVAILABLE",
                                   f"cannot open the event journal {path}: {exc}") from None
            _journals[path] = journal
        return journal


def close_journals() -> None:
    """Close every journal this process opened (the app's shutdown)."""
    with _journals_lock:
        for journal in _journals.values():
            journal.close()
        _journals.clear()


@router.get("/events", responses={503: problem("The event journal cannot be opened")})
async def events(
    settings: Settings = Depends(get_agent_settings),
    after: int = Query(0, ge=0, description="Return events with a sequence number above."),
    limit: int = Query(1000, ge=1, le=MAX_LIMIT, description="At most this many events."),
    wait: float = Query(0.0, ge=0.0, le=MAX_WAIT_S,
                        description="Seconds to wait for an event when there is none yet."),
    epoch: str | None = Query(None, max_length=64,
                              description="The journal epoch `after` belongs to."),
) -> Response:
    """Journalled events after `after`, oldest first, long-polled up to `wait` seconds."""
    journal = await run_in_threadpool(journal_for, settings)
    if epoch is not None and epoch != journal.epoch:
        after = 0
    deadline = time.monotonic() + wait
    while True:
        entries = await run_in_threadpool(journal.read, after, limit)
        if entries or time.monotonic() >= deadline:
            break
        await asyncio.sleep(POLL_S)
    body: dict[str, Any] = {
        "epoch": journal.epoch,
        "events": [{**entry.event, "seq": entry.seq} for entry in entries],
        "last": entries[-1].seq if entries else after,
    }
    # orjson directly: FastAPI's encoder costs more than the query for a page of events
    return Response(orjson.dumps(body), media_type="application/json")
