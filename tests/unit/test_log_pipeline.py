"""The collector's line pipeline on its own (no Docker): split, dedupe, parse, write, publish."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from decnet_lib import events
from decnet_lib.logs.cursors import CursorBook, CursorFile
from decnet_lib.logs.emulator_line import format_line
from decnet_lib.logs.journal import EventJournal
from decnet_lib.logs.pipeline import (
    MAX_PENDING,
    LinePipeline,
    LineSplitter,
    parse_docker_timestamp,
)
from decnet_lib.logs.rfc5424 import EventSource
from decnet_lib.settings import get_settings

STAMP = b"2026-01-02T03:04:05.123456789Z"
SOURCE = EventSource(container_id="c" * 64, topology="maze", topology_id="t1", decky="web",
                     service="ssh")


@pytest.fixture
def published() -> Any:
    seen: list[tuple[str, dict[str, Any]]] = []
    events.set_publisher(lambda topic, payload: seen.append((topic, payload)))
    yield seen
    events.set_publisher(None)


def _pipeline(tmp_path: Path) -> LinePipeline:
    settings = get_settings(state_dir=tmp_path, agent_log_file=tmp_path / "agent.log",
                            ingest_log_file=tmp_path / "ingest.log")
    book = CursorBook(CursorFile(tmp_path / "cursors.json"))
    return LinePipeline(settings, book, hostname="agent-1")


def test_splitter_keeps_partial_lines_and_drops_endless_ones() -> None:
    lines = LineSplitter()
    assert lines.feed(b"one\ntw") == [b"one"]
    assert lines.feed("o\nthree") == [b"two"]
    assert lines.rest() == b"three"
    assert lines.feed(b"x" * (MAX_PENDING + 1)) == []
    assert lines.dropped == 1
    assert lines.rest() == b""


def test_a_line_is_written_once_and_published(tmp_path: Path, published: Any) -> None:
    pipeline = _pipeline(tmp_path)
    path = pipeline.open()
    cursor = pipeline.cursors.cursor("c" * 64)
    content = format_line("ssh", "login", "198.51.100.7", 50123, {"username": "root"}).encode()
    try:
        pipeline.handle(cursor, SOURCE, STAMP + b" " + content)
        pipeline.handle(cursor, SOURCE, STAMP + b" " + content)  # replayed after a restart
        pipeline.handle(cursor, SOURCE, b"not-a-timestamp hello")
        pipeline.handle(cursor, SOURCE, STAMP[:-1] + b"8Z plain output, not an event")
    finally:
        pipeline.close()
    written = path.read_text().splitlines()
    assert len(written) == 1 and "198.51.100.7" in written[0] and "agent-1" in written[0]
    assert pipeline.counts() == {"written": 1, "ignored": 2, "duplicates": 1,
                                 "write_errors": 0, "journal_errors": 0}
    with EventJournal(tmp_path / "agent-events.db") as journal:  # what the master ingests
        entries = journal.read(0, 10)
    assert [(e.seq, e.event["src_ip"], e.event["fields"]["username"]) for e in entries] == [
        (1, "198.51.100.7", "root")]
    assert [topic for topic, _ in published] == [events.SYSTEM_LOG_TOPIC]
    payload = published[0][1]
    assert (payload["decky"], payload["service"], payload["event"]) == ("web", "ssh", "login")
    assert parse_docker_timestamp(STAMP) == 1767323045123456789


def test_facility_out_of_range_is_refused(tmp_path: Path) -> None:
    settings = get_settings(state_dir=tmp_path)
    with pytest.raises(ValueError):
        LinePipeline(settings, CursorBook(CursorFile(tmp_path / "c.json")), facility=24,
                     hostname="h")


def test_a_line_replayed_after_a_crash_is_journalled_and_written_once(
    tmp_path: Path, published: Any,
) -> None:
    """The agent died before saving its read cursor: Docker replays the line, the journal
    recognises it (container, timestamp, digest) and nothing is written twice."""
    content = format_line("ssh", "login", "198.51.100.7", 50123, {"username": "root"}).encode()
    for _ in range(2):  # two agent runs, each with a cursor file that never got saved
        (tmp_path / "cursors.json").unlink(missing_ok=True)
        pipeline = _pipeline(tmp_path)
        path = pipeline.open()
        try:
            pipeline.handle(pipeline.cursors.cursor("c" * 64), SOURCE, STAMP + b" " + content)
        finally:
            pipeline.close()
    assert pipeline.counts()["duplicates"] == 1
    assert len(path.read_text().splitlines()) == 1
    with EventJournal(tmp_path / "agent-events.db") as journal:
        assert [e.seq for e in journal.read(0, 10)] == [1]


def test_a_batch_is_journalled_written_and_published_like_single_lines(
    tmp_path: Path, published: Any,
) -> None:
    """`handle_many`: one transaction and one write, the same outcome as line by line; a line
    journalled before (replayed after a crash) is left out of the log and the bus."""
    def line(n: int) -> bytes:
        stamp = STAMP[:-4] + f"{n:03d}Z".encode()
        return stamp + b" " + format_line("http", "request", "198.51.100.9", 40000 + n,
                                          ts=1767323045.0 + n).encode()

    pipeline = _pipeline(tmp_path)
    path = pipeline.open()
    try:
        pipeline.handle(pipeline.cursors.cursor("c" * 64), SOURCE, line(1))
        (tmp_path / "cursors.json").unlink(missing_ok=True)
        cursor = CursorBook(CursorFile(tmp_path / "cursors.json")).cursor("c" * 64)
        pipeline.handle_many(cursor, SOURCE, [line(n) for n in range(1, 6)] + [b"junk"])
    finally:
        pipeline.close()
    with EventJournal(tmp_path / "agent-events.db") as journal:
        ports = [entry.event["src_port"] for entry in journal.read(0, 10)]
    assert ports == [40001, 40002, 40003, 40004, 40005]
    assert len(path.read_text().splitlines()) == 5
    assert [p["src_port"] for _, p in published] == ports
    assert pipeline.counts() == {"written": 5, "ignored": 1, "duplicates": 1,
                                 "write_errors": 0, "journal_errors": 0}
