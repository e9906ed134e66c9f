"""Pieces of ingest without an agent: topics, `--since`, the ingest log's position."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from decnet_lib.master.attack_events import BadSince, parse_since
from decnet_lib.master.ingest import attack_topic
from decnet_lib.master.ingest_log import last_id_in


def test_attack_topic_tokens_are_safe() -> None:
    assert attack_topic({"topology_id": "t1", "decky": "web01", "service": "http"}) == \
        "attack.t1.web01.http"
    assert attack_topic({"topology_id": None, "decky": "a.b", "service": "x>y"}) == \
        "attack.unknown.a_b.x_y"


def test_since_accepts_durations_and_iso_times() -> None:
    now = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
    assert parse_since("10m", now) == datetime(2026, 1, 2, 11, 50, tzinfo=UTC)
    assert parse_since("2d", now) == datetime(2025, 12, 31, 12, 0, tzinfo=UTC)
    assert parse_since("2026-01-01T00:00:00Z") == datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_since("2026-01-01T01:00:00+01:00") == datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_since(None) is None
    with pytest.raises(BadSince):
        parse_since("yesterday")


def test_last_id_comes_from_the_last_complete_line(tmp_path: Path) -> None:
    path = tmp_path / "ingest.log"
    assert last_id_in(path) == 0
    path.write_text('<164>1 - h decnet - login [decnet@32473 id="7" event="login"] x\n'
                    '<164>1 - h decnet - login [decnet@32473 id="8" event="login"] x\n'
                    '<164>1 - h decnet - login [decnet@32473 id="9" ev')  # cut by a crash
    assert last_id_in(path) == 8
