"""The collector's line pipeline: what happens to one line of a container's stdout.

`docker logs --timestamps` gives `TIMESTAMP content` lines; each is deduplicated against
its container's cursor, parsed with `parse_line` (other lines are counted and dropped),
written as one RFC 5424 line to the sink, appended to the event journal the master ingests
from (`journal.EventJournal`) and published on `system.log`. Nothing here talks
to Docker: following containers is `collector.LogCollector`'s job.
"""

from __future__ import annotations

import calendar
import logging
import re
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from decnet_lib import events
from decnet_lib.logs.cursors import Cursor, CursorBook, line_digest
from decnet_lib.logs.emulator_line import MAX_LINE, EmulatorEvent, parse_line
from decnet_lib.logs.journal import EventJournal
from decnet_lib.logs.rfc5424 import LOCAL0, EventSource, format_event, severity_for, summary
from decnet_lib.logs.sink import LineSink, LogSinkError, check_log_paths

if TYPE_CHECKING:
    from decnet_lib.settings import Settings

log = logging.getLogger("decnet_lib.logs.collector")

MAX_PENDING = 4 * MAX_LINE
"""Bytes of an unfinished line kept; a longer one is dropped (emulator lines stay < 4 KiB)."""
SOURCE = "agent.collector"
COUNTERS = ("written", "ignored", "duplicates", "write_errors", "journal_errors")

_DOCKER_TS = re.compile(
    rb"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)"
)


def parse_docker_timestamp(raw: bytes) -> int | None:
    """Nanoseconds since the epoch of an RFC 3339 timestamp as Docker writes it, or None."""
    m = _DOCKER_TS.fullmatch(raw)
    if not m:
        return None
    year, month, day, hour, minute, sec = (int(g) for g in m.groups()[:6])
    frac, zone = m.group(7) or b"", m.group(8)
    try:
        seconds = calendar.timegm((year, month, day, hour, minute, sec, 0, 0, 0))
    except (ValueError, OverflowError):
        return None
    if zone != b"Z":
        sign = -1 if zone[:1] == b"-" else 1
        seconds -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    return seconds * 1_000_000_000 + int(frac.ljust(9, b"0") or b"0")


class LineSplitter:
    """Cut a stream's chunks into lines; an unfinished line longer than MAX_PENDING is
    dropped (`dropped` counts them)."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.dropped = 0

    def feed(self, chunk: bytes | str) -> list[bytes]:
        """The complete lines this chunk finishes (without their newline)."""
        if isinstance(chunk, str):  # a TTY container's raw stream may be text
            chunk = chunk.encode("utf-8", "surrogateescape")
        buffer = self._buffer
        buffer += chunk
        lines, start = [], 0
        while (end := buffer.find(b"\n", start)) >= 0:
            lines.append(bytes(buffer[start:end]))
            start = end + 1
        del buffer[:start]
        if len(buffer) > MAX_PENDING:  # no newline in sight: drop it
            buffer.clear()
            self.dropped += 1
        return lines

    def rest(self) -> bytes:
        """A last line without its newline (empty when there is none)."""
        rest = bytes(self._buffer)
        self._buffer.clear()
        return rest


class LinePipeline:
    """Dedupe, parse, write and publish the lines of every followed container."""

    def __init__(self, settings: Settings, cursors: CursorBook, *, facility: int = LOCAL0,
                 hostname: str) -> None:
        if not 0 <= facility <= 23:
            raise ValueError(f"syslog facility must be 0..23, not {facility}")
        self.settings = settings
        self.cursors = cursors
        self.facility = facility
        self.hostname = hostname
        self._sink: LineSink | None = None
        self._journal: EventJournal | None = None
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(COUNTERS, 0)

    def open(self) -> Path:
        """Check the log paths and open the sink; its path. Raises LogPathClash when the
        agent and ingest log files are one file, LogSinkError when it cannot be opened."""
        check_log_paths(self.settings)
        path = self.settings.agent_log_file
        try:
            self._sink = LineSink(path)
        except OSError as exc:
            raise LogSinkError(f"cannot open the agent log file {path}: {exc}") from exc
        journal = self.settings.agent_events_file
        try:
            self._journal = EventJournal(journal)
        except (OSError, sqlite3.Error) as exc:
            self._sink.close()
            raise LogSinkError(f"cannot open the agent event journal {journal}: {exc}") from exc
        return path

    def close(self) -> None:
        if self._sink is not None:
            self._sink.close()
        if self._journal is not None:
            self._journal.close()
            self._journal = None

    def count(self, key: str, amount: int = 1) -> None:
        if amount:
            with self._lock:
                self._counts[key] += amount

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def handle(self, cursor: Cursor, source: EventSource, raw: bytes) -> None:
        """One `TIMESTAMP content` line from Docker: dedupe, parse, write, publish."""
        self.handle_many(cursor, source, (raw,))

    def handle_many(self, cursor: Cursor, source: EventSource, lines: Iterable[bytes]
                    ) -> None:
        """`TIMESTAMP content` lines of one container, in order: `handle` each, with one
        journal transaction and one write for all of them. The cursor moves past them only
        once they are journalled (a cursor saved meanwhile never skips an unjournalled line)."""
        batch: list[tuple[EmulatorEvent, str | None]] = []
        draft = self.cursors.draft(cursor)
        for raw in lines:
            stamp, _, content = raw.partition(b" ")
            ns = parse_docker_timestamp(stamp)
            if ns is None:
                self.count("ignored")
                continue
            if not draft.accept(ns, content):
                self.count("duplicates")
                continue
            event = parse_line(content)
            if event is None:
                self.count("ignored")
                continue
            key = f"{source.container_id}:{ns}:{line_digest(content)}" \
                if source.container_id else None
            batch.append((event, key))
        self.emit_many(batch, source)
        self.cursors.advance(cursor, draft)

    def emit(self, event: EmulatorEvent, source: EventSource, key: str | None = None) -> None:
        """Journal one event, write it to the sink and publish it on the bus; an event whose
        `key` is journalled already (a line replayed after a crash) is a duplicate."""
        self.emit_many(((event, key),), source)

    def emit_many(self, batch: Sequence[tuple[EmulatorEvent, str | None]],
                  source: EventSource) -> None:
        """`emit` each (event, key), journalled in one transaction, written in one write."""
        if not batch:
            return
        payloads = [event_payload(event, source, self.hostname) for event, _ in batch]
        fresh = [True] * len(batch)
        journal = self._journal
        try:
            if journal is None:
                raise LogSinkError("no event journal")
            seqs = journal.append_many(zip(payloads, (key for _, key in batch), strict=True))
            fresh = [seq is not None for seq in seqs]
            self.count("duplicates", fresh.count(False))
        except Exception as exc:
            self.count("journal_errors", len(batch))
            log.warning("log collector: cannot journal to %s: %s",
                        self.settings.agent_events_file, exc)
        lines = [format_event(event, source, facility=self.facility, hostname=self.hostname)
                 for (event, _), new in zip(batch, fresh, strict=True) if new]
        sink = self._sink
        try:
            if sink is None:
                raise LogSinkError("no log sink")
            sink.write_lines(lines)
            self.count("written", len(lines))
        except Exception as exc:
            self.count("write_errors", len(lines))
            log.warning("log collector: cannot write to %s: %s", self.settings.agent_log_file,
                        exc)
        for payload, new in zip(payloads, fresh, strict=True):
            if new:
                events.publish(events.SYSTEM_LOG_TOPIC, payload)


def event_payload(event: EmulatorEvent, source: EventSource, hostname: str) -> dict[str, Any]:
    """The `system.log` bus payload of one event."""
    return {
        "source": SOURCE,
        "host": hostname,
        "topology": source.topology,
        "topology_id": source.topology_id,
        "decky": source.decky or event.fields.get("decky"),
        "service": source.service or event.service,
        "container": source.short_id,
        "event": event.event,
        "severity": severity_for(event.event).name.lower(),
        "ts": event.ts,
        "src_ip": event.src_ip,
        "src_port": event.src_port,
        "dst_port": event.dst_port,
        "proto": event.protocol,
        "fields": dict(event.fields),
        "truncated": event.truncated,
        "message": summary(event, source),
    }
