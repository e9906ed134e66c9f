"""Open event streams per API token, counted over every process serving the API.

A token may hold `cap` streams: stream slot i of a token is an exclusive `flock` on the file
`<lock dir>/api-streams/<digest>.<i>` (digest of the database URL and the token's name), held
while the stream is open. Every worker of `decnet api serve --workers N` (and any server on
the same database and lock directory) sees the same slots, and a slot is free again when
its stream ends or when the process holding it dies: nothing is left to clean up.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from pathlib import Path

from decnet_lib.api.errors import ApiError


class StreamSlots:
    """Take and give back stream slots under `directory`."""

    def __init__(self, directory: Path, database: str) -> None:
        self.directory, self.database = directory, database

    def take(self, name: str, cap: int) -> int:
        """Hold a free slot of token `name` (an open file descriptor); 429 when all `cap`
        are held."""
        digest = hashlib.sha256(f"{self.database}\0{name}".encode()).hexdigest()[:32]
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            for index in range(cap):
                fd = os.open(self.directory / f"{digest}.{index}", os.O_RDWR | os.O_CREAT,
                             0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    continue
                return fd
        except OSError as exc:
            raise ApiError("STREAM_SLOTS_UNAVAILABLE", f"cannot count event streams in "
                           f"{self.directory}: {exc.strerror or exc}") from None
        raise ApiError("TOO_MANY_STREAMS", f"token {name!r} already holds {cap} event "
                       "streams (close one first)")

    @staticmethod
    def give_back(slot: int) -> None:
        """Free a slot `take` returned."""
        with contextlib.suppress(OSError):
            os.close(slot)  # closing the descriptor releases its flock
