"""The agent's log file: an append-only, rotation-proof, thread-safe line writer.

`LineSink` opens the file with O_APPEND and writes each line (or batch of whole lines) with
one `write()`, so lines never interleave. Before every write it compares the path's
(st_dev, st_ino) with the open file, like `logging.handlers.WatchedFileHandler`: when the
file was renamed or deleted (logrotate `create`), it reopens the path; a truncated file
(logrotate `copytruncate`) needs no reopen, O_APPEND writes at the new end.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from decnet_lib.errors import DecnetError
from decnet_lib.settings import get_settings

if TYPE_CHECKING:
    from decnet_lib.settings import Settings

FILE_MODE = 0o640
DIR_MODE = 0o750


class LogPathClash(DecnetError):
    """DECNET_AGENT_LOG_FILE and DECNET_INGEST_LOG_FILE are the same file."""

    code = "LOG_PATH_CLASH"


class LogSinkError(DecnetError):
    """The agent log file cannot be opened or written."""

    code = "LOG_SINK"


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """True when two paths name one file: same real path, or (both existing) same inode."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        sa, sb = os.stat(a), os.stat(b)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def check_log_paths(settings: Settings | None = None) -> None:
    """Refuse (LogPathClash) when the agent's log file is the master's ingest file.

    A box running both roles would otherwise forward its own ingest back to itself.
    """
    settings = settings or get_settings()
    agent, ingest = settings.agent_log_file, settings.ingest_log_file
    if same_file(agent, ingest):
        raise LogPathClash(
            f"DECNET_AGENT_LOG_FILE ({agent}) and DECNET_INGEST_LOG_FILE ({ingest}) are the "
            "same file; give the agent a log file of its own"
        )


class LineSink:
    """Append whole lines to `path`, reopening it after rotation. Safe across threads."""

    def __init__(self, path: str | os.PathLike[str], *, mode: int = FILE_MODE) -> None:
        self.path = Path(path)
        self.mode = mode
        self.reopens = 0
        """Times the file was found moved or deleted and opened again."""
        self.truncations = 0
        """Times the file was found shorter than what was written to it."""
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._ident: tuple[int, int] = (0, 0)
        self._end = 0  # size of the file after our last write
        self._closed = False
        with self._lock:
            self._open()

    # -- file handling ----------------------------------------------------------------------
    def _open(self) -> None:
        self.path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC,
                     self.mode)
        st = os.fstat(fd)
        self._fd, self._ident, self._end = fd, (st.st_dev, st.st_ino), st.st_size

    def _close_fd(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError):
                os.close(fd)

    def _check(self) -> None:
        """Reopen when the path no longer names the open file; note truncations."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            st = None
        if st is None or (st.st_dev, st.st_ino) != self._ident or self._fd is None:
            self._close_fd()
            self._open()
            self.reopens += 1
        elif st.st_size < self._end:
            self.truncations += 1
            self._end = st.st_size

    def _write(self, data: bytes) -> None:
        if self._closed:
            raise LogSinkError(f"log sink {self.path} is closed")
        self._check()
        assert self._fd is not None
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self._end += len(data)

    # -- public -----------------------------------------------------------------------------
    def write_line(self, line: str) -> None:
        """Append one line (a newline is added; the line itself must hold none)."""
        self.write_lines((line,))

    def write_lines(self, lines: Iterable[str]) -> None:
        """Append whole lines with one write (nothing is written if any line is invalid)."""
        chunks = []
        for line in lines:
            if "\n" in line or "\r" in line:
                raise ValueError("a log line must not contain CR or LF")
            chunks.append(line)
        if not chunks:
            return
        data = ("\n".join(chunks) + "\n").encode("utf-8", "backslashreplace")
        with self._lock:
            self._write(data)

    def close(self) -> None:
        """Close the file; later writes raise LogSinkError. Idempotent."""
        with self._lock:
            self._closed = True
            self._close_fd()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> LineSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
