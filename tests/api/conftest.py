"""Fixtures of the API contract tests: a real server per test, on SQLite and MariaDB
(`api`) or on SQLite alone (`sqlite_api`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from api_server import Api, running_api


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Iterator[Api]:
    with running_api(tmp_path, db_url) as server:
        yield server


@pytest.fixture
def sqlite_api(tmp_path: Path) -> Iterator[Api]:
    with running_api(tmp_path, f"sqlite:///{tmp_path / 'db' / 'decnet.db'}",
                     api_stream_max_per_token="2", max_document_bytes="200000") as server:
        yield server
