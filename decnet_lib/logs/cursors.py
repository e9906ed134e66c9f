"""How far the collector read each container's log, kept across agent restarts.

A cursor is the Docker timestamp of the last line read plus digests of the lines carrying
that same timestamp (Docker's `since` is inclusive, so the boundary is read again and must
be recognised). The cursor file is `DECNET_STATE_DIR/agent/log-cursors.json`, written
atomically; an unreadable one is moved aside and reading starts over.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from decnet_lib.atomic_files import write_json_atomic

log = logging.getLogger(__name__)

CURSOR_FILE = "log-cursors.json"
FORMAT_VERSION = 1


def line_digest(content: bytes) -> str:
    """A short digest that tells the lines of one timestamp apart."""
    return hashlib.blake2b(content, digest_size=12).hexdigest()


@dataclass(slots=True)
class Cursor:
    """How far one container's log was read: last Docker timestamp and the lines at it."""

    last_ns: int = 0
    at_last: set[str] = field(default_factory=set)

    def accept(self, ns: int, content: bytes) -> bool:
        """True for a line not read yet (advancing the cursor), False for a repeat."""
        if ns < self.last_ns:
            return False
        digest = line_digest(content)
        if ns == self.last_ns:
            if digest in self.at_last:
                return False
            self.at_last.add(digest)
            return True
        self.last_ns, self.at_last = ns, {digest}
        return True

    def since(self) -> float | None:
        """`since` for the next attach: a millisecond before the cursor (None: everything)."""
        if not self.last_ns:
            return None
        return max(self.last_ns // 1_000_000 - 1, 1) / 1000

    def to_dict(self) -> dict[str, Any]:
        return {"last_ns": self.last_ns, "at_last": sorted(self.at_last)}

    @classmethod
    def from_dict(cls, data: Any) -> Cursor:
        """A cursor from its stored form; ValueError when it is not one."""
        if not isinstance(data, dict):
            raise ValueError("a cursor is an object")
        last_ns, at_last = data.get("last_ns"), data.get("at_last", [])
        if not isinstance(last_ns, int) or last_ns < 0 or not isinstance(at_last, list) or not all(
            isinstance(item, str) for item in at_last
        ):
            raise ValueError("bad cursor")
        return cls(last_ns, set(at_last))


class CursorFile:
    """Load and save every container's cursor in one JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, Cursor]:
        """The stored cursors; none when the file is missing or unreadable (moved aside)."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            log.warning("cannot read the log cursors %s: %s", self.path, exc)
            return {}
        try:
            document = orjson.loads(raw)
            if document.get("version") != FORMAT_VERSION:
                raise ValueError(f"unknown version {document.get('version')!r}")
            return {str(cid): Cursor.from_dict(data)
                    for cid, data in document["containers"].items()}
        except (orjson.JSONDecodeError, ValueError, KeyError, AttributeError, TypeError) as exc:
            aside = self.path.with_name(
                f"{self.path.name}.corrupt-{int(dt.datetime.now().timestamp())}")
            os.replace(self.path, aside)
            log.warning("log cursors %s are unreadable (%s); moved aside to %s",
                        self.path, exc, aside.name)
            return {}

    def save(self, cursors: dict[str, Cursor]) -> None:
        """Write every cursor that has read something (atomically); OSError on failure."""
        write_json_atomic(self.path, {
            "version": FORMAT_VERSION,
            "containers": {cid: c.to_dict() for cid, c in sorted(cursors.items()) if c.last_ns},
        })


class CursorBook:
    """Every container's cursor, saved to a CursorFile when they moved (thread-safe)."""

    def __init__(self, file: CursorFile) -> None:
        self.file = file
        self._lock = threading.Lock()
        self._save_lock = threading.Lock()  # one save at a time, the last one complete
        self._cursors: dict[str, Cursor] = {}
        self._dirty = False

    def load(self) -> None:
        """Take in the saved cursors (those already held are newer and stay)."""
        saved = self.file.load()
        with self._lock:
            for container_id, cursor in saved.items():
                self._cursors.setdefault(container_id, cursor)

    def cursor(self, container_id: str) -> Cursor:
        """The cursor of a container (a fresh one when it was never read)."""
        with self._lock:
            return self._cursors.setdefault(container_id, Cursor())

    def accept(self, cursor: Cursor, ns: int, content: bytes) -> bool:
        """Cursor.accept, remembering that there is something new to save."""
        with self._lock:
            fresh = cursor.accept(ns, content)
            self._dirty |= fresh
            return fresh

    def draft(self, cursor: Cursor) -> Cursor:
        """A copy of `cursor` to accept a batch of lines on before they are journalled
        (`advance` then moves the cursor itself: a save never runs ahead of the journal)."""
        with self._lock:
            return Cursor(cursor.last_ns, set(cursor.at_last))

    def advance(self, cursor: Cursor, draft: Cursor) -> None:
        """Move `cursor` to where its `draft` got (the draft's lines are journalled)."""
        with self._lock:
            if (draft.last_ns, draft.at_last) != (cursor.last_ns, cursor.at_last):
                cursor.last_ns, cursor.at_last = draft.last_ns, set(draft.at_last)
                self._dirty = True

    def forget(self, container_id: str) -> None:
        """Drop the cursor of a container that is gone."""
        with self._lock:
            self._cursors.pop(container_id, None)
            self._dirty = True

    def save(self) -> None:
        """Save when a cursor moved since the last save; OSError is logged (and the next
        save tries again). Waits for a save under way, so the last call always lands."""
        with self._save_lock:
            with self._lock:
                if not self._dirty:
                    return
                snapshot = {cid: Cursor(c.last_ns, set(c.at_last))
                            for cid, c in self._cursors.items()}
                self._dirty = False
            try:
                self.file.save(snapshot)
            except OSError as exc:
                with self._lock:
                    self._dirty = True
                log.warning("cannot save the log cursors to %s: %s", self.file.path, exc)
