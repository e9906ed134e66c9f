"""State is private to the service: database 0600 in a 0700 state directory, pinned.json 0600;
error messages quote at most 200 characters of what a user sent."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from decnet_lib.atomic_files import write_json_atomic
from decnet_lib.db.engine import make_engine
from decnet_lib.errors import NotFound
from decnet_lib.issues import QUOTE_LIMIT, Code, error


@pytest.fixture
def lax_umask() -> Iterator[None]:
    old = os.umask(0)  # the modes must not depend on the caller's umask
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_sqlite_database_and_its_state_dir_are_private(tmp_path: Path,
                                                           lax_umask: None) -> None:
    state = tmp_path / "state"
    engine = make_engine(f"sqlite:///{state / 'decnet.db'}")
    with engine.connect() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        conn.commit()
    engine.dispose()
    assert _mode(state) == 0o700
    assert _mode(state / "decnet.db") == 0o600


def test_atomic_json_files_are_private(tmp_path: Path, lax_umask: None) -> None:
    path = tmp_path / "agent" / "pinned.json"
    write_json_atomic(path, {"id": "x"})
    assert _mode(path) == 0o600
    assert _mode(path.parent) == 0o700


def test_messages_quote_at_most_200_characters_of_input() -> None:
    name = "d" * 120_000
    exc = NotFound(f"no decky named {name!r} in acme")
    assert len(exc.message) < 300 and exc.message.endswith("in acme")
    assert "d" * (QUOTE_LIMIT - 1) in exc.message and "d" * (QUOTE_LIMIT + 1) not in exc.message
    issue = error(Code.NAME_INVALID, f"deckies.{name}", f"decky name {name!r} is not allowed")
    assert len(issue.message) < 300 and len(issue.target) < 300
    spaced = "a " * 60_000
    assert len(NotFound(f"bad {spaced}").message) < 1100
