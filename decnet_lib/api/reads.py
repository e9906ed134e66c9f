"""Where a route's short database read runs: on the event loop for SQLite, on a small
thread pool for a server database.

A SQLite read here is a local file read of about 0.1 ms in WAL mode, where readers do not
wait for writers: a thread hop costs more than that, and under a burst of requests the
threads contend with the event loop for the GIL (the p99 tail, docs/benchmarks.md "API").
A MariaDB read is network round trips: on the loop it would stall every other request, so
it runs on `READS`, 2 threads rather than anyio's shared 40.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from anyio import CapacityLimiter, to_thread
from sqlalchemy import Engine

T = TypeVar("T")
READS = CapacityLimiter(2)


async def short_read(engine: Engine, read: Callable[[], T]) -> T:
    """`read()` (a few small statements on `engine`), run where it costs least."""
    if engine.dialect.name == "sqlite":
        return read()
    return await to_thread.run_sync(read, limiter=READS)
