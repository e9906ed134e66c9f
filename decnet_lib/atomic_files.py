"""Files written so that a crash leaves either the old or the new content, never half."""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path
from typing import Any

import orjson


def write_json_atomic(path: Path, document: Any) -> None:
    """Write to a temporary file in the same directory, fsync, rename, fsync the directory.

    Each call has its own temporary file, so concurrent writers never mix their bytes:
    the last rename wins.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as handle:
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
