"""Bearer-token verification for the API's event loop: the in-process cache first, else one
database check per token at a time.

When a remembered token expires (master/token_cache.py), a burst of requests carrying it
would otherwise send one database check each to the thread pool at once (50 threads and
the GIL: the p99 tail in docs/benchmarks.md "API"). Here the first starts the check and the
others await the same one.
"""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from decnet_lib.master.api_tokens import Caller, authenticate, cached_caller
from decnet_lib.master.token_cache import token_key


class TokenVerifier:
    """The caller of a presented token (None when it is not a valid one)."""

    def __init__(self) -> None:
        self._checks: dict[tuple[str, str], asyncio.Future[Caller | None]] = {}

    async def caller(self, engine: Engine, token: str) -> Caller | None:
        """Who `token` belongs to; a check already running for it is awaited, not repeated."""
        remembered = cached_caller(engine, token)
        if remembered is not None:
            return remembered
        key = token_key(str(engine.url), token)
        check = self._checks.get(key)
        if check is None:
            check = asyncio.ensure_future(run_in_threadpool(authenticate, engine, token))
            self._checks[key] = check
            check.add_done_callback(lambda done: self._finished(key, done))
        # a client that goes away cancels its own wait, never the check the others await
        return await asyncio.shield(check)

    def _finished(self, key: tuple[str, str], done: asyncio.Future[Caller | None]) -> None:
        self._checks.pop(key, None)
        if not done.cancelled():
            with contextlib.suppress(Exception):
                done.exception()  # retrieved: no "never retrieved" warning if all waiters went
