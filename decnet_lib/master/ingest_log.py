"""DECNET_INGEST_LOG_FILE: every ingested event once, as one RFC 5424 line, in id order.

The file is written from the database: `sync` appends the stored events with an id above the
last one written. That id is kept in a sidecar (`<file>.pos`, replaced atomically after each
write) and read back from the file's last line (its `id` SD-PARAM) in case a crash came
between the two. Writers hold an exclusive lock (`<file>.lock`, flock) across "store a page,
commit, sync", so ids reach the file in order even with several ingesters, and a page one
ingester committed but did not write (it crashed) is written by the next `sync`.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine

from decnet_lib.atomic_files import write_json_atomic
from decnet_lib.db import new_session
from decnet_lib.db.attack_events import StoredEvent, events_after
from decnet_lib.db.models import AttackEvent
from decnet_lib.file_lock import FileLock
from decnet_lib.logs.rfc5424 import SD_ID, format_line, severity_for
from decnet_lib.logs.sink import LineSink

SYNC_BATCH = 2000
TAIL_BYTES = 65536
_ID = re.compile(r'\[' + re.escape(SD_ID) + r' id="(\d+)"')
HOSTNAME = "decnet-master"


def ingest_line(row: AttackEvent | StoredEvent, hostname: str = HOSTNAME) -> str:
    """The RFC 5424 line of one stored event (MSGID = event name, `id` first)."""
    fields = dict(row.fields or {})
    params: list[tuple[str, str | int | None]] = [
        ("id", row.id), ("topology", row.topology), ("topology_id", row.topology_id),
        ("decky", row.decky), ("lan", row.lan), ("service", row.service),
        ("event", row.event), ("src_ip", row.src_ip), ("src_port", row.src_port),
        ("dst_ip", row.dst_ip), ("dst_port", row.dst_port), ("proto", row.proto),
        ("session", row.session),
    ]
    taken = {name for name, _ in params}
    for name, value in fields.items():
        if name in ("proto", "dport", "decky", "session"):
            continue
        key = name if name not in taken else f"f_{name}"
        taken.add(key)
        params.append((key, str(value)))
    where = f"{row.decky or '?'}/{row.service or '?'}"
    msg = f"{row.event} on {where} from {row.src_ip}:{row.src_port}"
    return format_line(severity=severity_for(row.event), msgid=row.event, params=params,
                       msg=msg, ts=row.ts.timestamp(), hostname=hostname, procid=None)


def last_id_in(path: Path) -> int:
    """The id of the last complete line of the file (0 when none)."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - TAIL_BYTES))
            tail = handle.read()
    except FileNotFoundError:
        return 0
    for line in reversed(tail.split(b"\n")[:-1]):  # the part after the last newline is partial
        match = _ID.search(line.decode("utf-8", "replace"))
        if match:
            return int(match.group(1))
    return 0


def logged_up_to(path: Path) -> int:
    """The id of the last event written to the ingest log at `path` (0 when none): the
    larger of its sidecar's and its last complete line's."""
    pos_path = path.with_name(path.name + ".pos")
    try:
        stored = int(orjson.loads(pos_path.read_bytes()).get("last_id", 0))
    except (FileNotFoundError, ValueError, TypeError, AttributeError):
        stored = 0
    return max(stored, last_id_in(path))


class IngestLog:
    """The ingest log file, its position sidecar and its writer lock."""

    def __init__(self, path: Path, hostname: str = HOSTNAME) -> None:
        self.path = Path(path)
        self.hostname = hostname
        self.pos_path = self.path.with_name(self.path.name + ".pos")
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self._sink = LineSink(self.path)
        self._lock = FileLock(self.lock_path)
        self.written = 0

    def _position(self) -> int:
        return logged_up_to(self.path)

    def locked(self) -> contextlib.AbstractContextManager[None]:
        """Exclusive across threads and processes: store, commit and sync under it."""
        return self._lock.held()

    def sync(self, engine: Engine, fresh: Sequence[Any] = ()) -> int:
        """Append every stored event not in the file yet (call under `locked`); how many.
        `fresh`: rows just committed, in id order; when they are the next stored events
        after the file's end, they are written without being read again."""
        done = 0
        last = self._position()
        if fresh and fresh[0].id > last and self._next_id(engine, last) == fresh[0].id:
            self._append([ingest_line(row, self.hostname) for row in fresh], fresh[-1].id)
            done, last = len(fresh), fresh[-1].id
        while True:
            session = new_session(engine)
            try:
                rows = events_after(session, last, SYNC_BATCH)
                lines = [ingest_line(row, self.hostname) for row in rows]
                ids = [row.id for row in rows]
            finally:
                session.rollback()
                session.close()
            if not lines:
                return done
            self._append(lines, ids[-1])
            last = ids[-1]
            done += len(lines)

    def _append(self, lines: list[str], last_id: int) -> None:
        """Write the lines, then remember the id of the last one."""
        self._sink.write_lines(lines)
        write_json_atomic(self.pos_path, {"last_id": last_id})
        self.written += len(lines)

    @staticmethod
    def _next_id(engine: Engine, after: int) -> int | None:
        """The id of the first stored event after `after` (None when none)."""
        session = new_session(engine)
        try:
            rows = events_after(session, after, 1)
            return rows[0].id if rows else None
        finally:
            session.rollback()
            session.close()

    def close(self) -> None:
        self._sink.close()

    def __enter__(self) -> IngestLog:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
