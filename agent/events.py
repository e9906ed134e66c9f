"""`GET /events`: the events the agent's collector journalled, after a sequence number.

    GET /events?after=SEQ&limit=N&wait=S&epoch=E
    -> {"epoch": E', "events": [{"seq": n, ...event}], "last": n_or_after}

Long-polled: with nothing newer than `after`, the answer waits up to `wait` seconds (checking
the journal file, which the collector may write from another thread or process) and returns
an empty list when nothing came. When `epoch` is given and is not the journal's (the file was
made again), reading starts from the beginning: the master compares the epoch it receives.

A request whose `epoch` is the journal's acknowledges every entry up to `after` (the master
stored them): a pruner thread, started with the app, deletes those an hour later, and any entry
older than DECNET_AGENT_EVENTS_MAX_DAYS (docs/events.md, "Retention").
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from pathlib import Path

import orjson
from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from agent.deps import get_agent_settings
from agent.errors import AgentProblem
from agent.openapi import problem
from decnet_lib.logs.journal import EventJournal
from decnet_lib.logs.journal_pruner import JournalPruner
from decnet_lib.settings import Settings

MAX_LIMIT = 5000
MAX_WAIT_S = 30.0
POLL_S = 0.05
"""How often a long poll looks at the journal (a cheap indexed read)."""

router = APIRouter()
_journals: dict[Path, EventJournal] = {}
_pruners: dict[Path, JournalPruner] = {}
_journals_lock = threading.Lock()
log = logging.getLogger("decnet.agent.events")


def journal_for(settings: Settings) -> EventJournal:
    """The journal at DECNET_AGENT_EVENTS_FILE, opened once per process (its pruner
    started)."""
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
            _pruners[path] = JournalPruner(journal, settings.agent_events_max_days).start()
        return journal


def start_journal(settings: Settings) -> None:
    """Open the journal and start its pruner at startup (a journal whose master never asks
    still obeys the hard cap); a journal that cannot be opened waits for `GET /events`."""
    try:
        journal_for(settings)
    except AgentProblem as exc:
        log.warning("%s", exc)


def close_journals() -> None:
    """Stop the pruners and close every journal this process opened (the app's shutdown)."""
    with _journals_lock:
        for pruner in _pruners.values():
            pruner.stop()
        _pruners.clear()
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
    deadline = time.monotonic() + wait
    while True:
        body = await run_in_threadpool(journal.page, after, limit, epoch)
        if body["events"] or time.monotonic() >= deadline:
            break
        await asyncio.sleep(POLL_S)
    # orjson directly: FastAPI's encoder costs more than the query for a page of events
    return Response(orjson.dumps(body), media_type="application/json")
