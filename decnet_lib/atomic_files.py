"""Files written so that a crash leaves either the old or the new content, never half."""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path
from typing import Any

import orjson

FILE_MODE = 0o600  # state files (the pinned topology, cursors) are for the service alone
DIR_MODE = 0o700


def write_json_atomic(path: Path, document: Any) -> None:
    """Write to a temporary file in the same directory, fsync, rename, fsync the directory.

    Each call has its own temporary file, so concurrent writers never mix their bytes:
    the last rename wins.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        with os.fdopen(fd, "wb") as handle:
            handle.write(orjson.dumps(document, option=orjson.OPT_INDENT_2))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)


def remove_durably(path: Path) -> None:
    """Delete a file (gone already is fine) and make the removal durable."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
        _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
