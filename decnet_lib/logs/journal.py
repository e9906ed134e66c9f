"""The agent's event journal: every collected event with a sequence number the master reads by.

A SQLite file (`DECNET_AGENT_EVENTS_FILE`) beside the RFC 5424 log: the collector's pipeline
appends each event to both. `seq` is an AUTOINCREMENT key (never reused, also after pruning),
and `epoch` a random id made with the file: a master that holds a cursor `(epoch, seq)` reads
`seq > cursor` and, when the epoch differs (the file was lost and made again), from the start.
Readers may be other processes (the agent's `GET /events` reads what its collector wrote).
An entry may carry a unique `key` (the collector's: container, Docker timestamp, line digest):
a line Docker replays after an agent crash (its read cursor is saved every second) is then
recognised and journalled once.

Pruning (`prune`) deletes only a prefix of the journal, a bounded batch per transaction:
entries the master acknowledged (its `GET /events?after=SEQ&epoch=E` says it stored up to
SEQ; kept in `meta`) once they are an hour old, and any entry older than a hard cap. The
rule: docs/events.md, "Retention".
"""

from __future__ import annotations

import contextlib
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
    "key TEXT UNIQUE, body BLOB NOT NULL, at REAL)",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)
FILE_MODE = 0o640
BUSY_TIMEOUT_S = 30.0
PRUNE_BATCH = 5000
ACK_KEEP_S = 3600.0
"""An acknowledged entry stays this long (a master restored from an older backup asks again)."""


def prunable_prefix(rows: Iterable[tuple[int, float | None]], acked: int,
                    acked_before: float, capped_before: float | None) -> int:
    """The last seq of the leading `(seq, at)` rows that may go (0: none): each acknowledged
    (`seq <= acked`) and journalled by `acked_before`, or journalled by `capped_before`."""
    last = 0
    for seq, at in rows:
        moment = float("inf") if at is None else float(at)
        acknowledged = seq <= acked and moment <= acked_before
        capped = capped_before is not None and moment <= capped_before
        if not (acknowledged or capped):
            break
        last = seq
    return last


@dataclass(frozen=True)
class JournalEntry:
    """One journalled event: its sequence number and the event as the collector built it."""

    seq: int
    event: dict[str, Any]


class EventJournal:
    """Append events, read them after a sequence number. Safe across threads."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
        if not self.path.exists():
            with contextlib.suppress(FileExistsError):
                Path(self.path).touch(mode=FILE_MODE, exist_ok=False)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                   check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for statement in SCHEMA:
                    self._db.execute(statement)
                self._add_journalled_at()
                self._db.execute("INSERT OR IGNORE INTO meta VALUES ('epoch', ?)",
                                 (secrets.token_hex(8),))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        self.epoch: str = self._db.execute(
            "SELECT value FROM meta WHERE key = 'epoch'").fetchone()[0]
        self._acked = self.acked()

    def _add_journalled_at(self) -> None:
        """A journal made before pruning existed gets its `at` column (its entries count
        as journalled now: their age is unknown)."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(events)")}
        if "at" not in columns:
            self._db.execute("ALTER TABLE events ADD COLUMN at REAL")
            self._db.execute("UPDATE events SET at = ?", (time.time(),))

    def append(self, event: dict[str, Any], key: str | None = None) -> int | None:
        """Journal one event; its sequence number, or None when `key` was journalled before."""
        return self.append_many(((event, key),))[-1]

    def append_many(self, entries: Iterable[tuple[dict[str, Any], str | None]]
                    ) -> list[int | None]:
        """Journal (event, key) pairs in one transaction; their sequence numbers, in order
        (None for a key journalled before)."""
        rows = [(key, orjson.dumps(event)) for event, key in entries]
        seqs: list[int | None] = []
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                now = time.time()
                for key, body in rows:
                    cursor = self._db.execute(
                        "INSERT OR IGNORE INTO events (key, body, at) VALUES (?, ?, ?)",
                        (key, body, now))
                    seqs.append(int(cursor.lastrowid) if cursor.rowcount == 1 else None)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return seqs

    def read(self, after: int, limit: int) -> list[JournalEntry]:
        """Up to `limit` events with `seq > after`, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, body FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
                (after, limit)).fetchall()
        return [JournalEntry(seq, orjson.loads(body)) for seq, body in rows]

    def page(self, after: int, limit: int, epoch: str | None = None) -> dict[str, Any]:
        """The `GET /events` answer: `{"epoch", "events": [{...event, "seq"}], "last"}`
        (the agent's route and the local target's feed). An `epoch` that is not this
        journal's (it was made again) reads from the start; this journal's epoch with `after`
        acknowledges every entry up to `after` (the master stored them: see `prune`)."""
        if epoch is not None and epoch != self.epoch:
            after = 0
        elif epoch is not None and after:
            self.acknowledge(after)
        entries = self.read(after, limit)
        return {
            "epoch": self.epoch,
            "events": [{**entry.event, "seq": entry.seq} for entry in entries],
            "last": entries[-1].seq if entries else after,
        }

    def last_seq(self) -> int:
        """The newest sequence number (0 when the journal is empty)."""
        with self._lock:
            row = self._db.execute("SELECT MAX(seq) FROM events").fetchone()
        return int(row[0] or 0)

    def _numbered(self) -> int:
        """The highest sequence number ever given (also when pruning emptied the journal)."""
        row = self._db.execute(
            "SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
        return int(row[0]) if row else 0

    def acked(self) -> int:
        """The highest seq the master said it stored (kept in the file: a restart keeps it)."""
        with self._lock:
            return self._read_acked()

    def _read_acked(self) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'acked'").fetchone()
        return int(row[0]) if row else 0

    def acknowledge(self, seq: int) -> None:
        """The master stored every entry up to `seq` (capped at the newest one); saved only
        when it moves forward."""
        if seq <= self._acked:
            return
        with self._lock:
            seq = min(seq, self._numbered())
            self._db.execute(
                "INSERT INTO meta VALUES ('acked', ?) ON CONFLICT (key) DO UPDATE SET "
                "value = excluded.value WHERE CAST(value AS INTEGER) < CAST(excluded.value "
                "AS INTEGER)", (str(seq),))
            self._acked = max(self._acked, seq)

    def prune(self, now: float | None = None, keep_acked_s: float = ACK_KEEP_S,
              max_age_s: float | None = None, batch: int = PRUNE_BATCH) -> int:
        """Delete the oldest entries while each is acknowledged and `keep_acked_s` old, or
        older than `max_age_s`; `batch` per transaction. How many went."""
        now = time.time() if now is None else now
        acked_before = now - keep_acked_s
        capped_before = now - max_age_s if max_age_s else None
        total = 0
        while True:
            done = self._prune_batch(acked_before, capped_before, batch)
            total += done
            if done < batch:
                return total

    def _prune_batch(self, acked_before: float, capped_before: float | None,
                     batch: int) -> int:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                acked = self._read_acked()
                rows = self._db.execute(
                    "SELECT seq, at FROM events ORDER BY seq LIMIT ?", (batch,)).fetchall()
                last = prunable_prefix(rows, acked, acked_before, capped_before)
                count = 0
                if last:
                    count = self._db.execute("DELETE FROM events WHERE seq <= ?",
                                             (last,)).rowcount
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return count

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> EventJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
