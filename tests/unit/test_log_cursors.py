"""The collector's cursors and their file: round trip, and a broken file is set aside."""

from __future__ import annotations

from pathlib import Path

import pytest

from decnet_lib.logs.cursors import Cursor, CursorBook, CursorFile


def test_cursor_skips_what_was_read_by_digest() -> None:
    cursor = Cursor()
    assert cursor.accept(7, b"x") and cursor.accept(7, b"y") and not cursor.accept(7, b"x")
    assert b"x" not in cursor.at_last and len(cursor.at_last) == 2  # digests, not lines


def test_round_trip_keeps_only_cursors_that_read_something(tmp_path: Path) -> None:
    store = CursorFile(tmp_path / "agent" / "log-cursors.json")
    assert store.load() == {}
    read = Cursor()
    assert read.accept(5_000_000_000, b"a") and read.accept(5_000_000_000, b"b")
    store.save({"c1": read, "c2": Cursor()})
    loaded = store.load()
    assert set(loaded) == {"c1"}
    assert not loaded["c1"].accept(5_000_000_000, b"a")  # still known after the reload
    assert loaded["c1"].accept(5_000_000_000, b"c")
    assert loaded["c1"].since() == read.since()


@pytest.mark.parametrize("content", [
    b"{not json", b'{"version": 99, "containers": {}}', b"[]",
    b'{"version": 1, "containers": {"c1": {"last_ns": -1}}}',
    b'{"version": 1, "containers": {"c1": {"last_ns": 1, "at_last": [3]}}}',
])
def test_an_unreadable_file_is_moved_aside(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "log-cursors.json"
    path.write_bytes(content)
    assert CursorFile(path).load() == {}
    assert not path.exists()
    assert [p.name.split(".corrupt-")[0] for p in tmp_path.iterdir()] == ["log-cursors.json"]


def test_the_book_saves_only_after_a_move_and_keeps_newer_cursors(tmp_path: Path) -> None:
    file = CursorFile(tmp_path / "log-cursors.json")
    book = CursorBook(file)
    book.save()
    assert not file.path.exists()  # nothing moved yet
    cursor = book.cursor("c1")
    assert book.accept(cursor, 5, b"a") and not book.accept(cursor, 5, b"a")
    book.save()
    assert file.load()["c1"].last_ns == 5
    assert book.accept(cursor, 9, b"b")
    book.load()  # the saved (older) cursor does not replace the one held
    assert book.cursor("c1") is cursor and cursor.last_ns == 9
    book.forget("c1")
    book.save()
    assert file.load() == {}
