"""Stream slots of API tokens, counted over processes by flock: a token's cap holds across
processes, a slot is free again when its stream ends or its process dies, tokens and
databases are counted apart, and an unusable lock directory is one clear error."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest

from decnet_lib.api.errors import ApiError
from decnet_lib.api.stream_slots import StreamSlots

DB = "sqlite:////tmp/one.db"


def hold_slots(directory: str, count: int, ready: multiprocessing.synchronize.Event,
               done: multiprocessing.synchronize.Event) -> None:
    slots = StreamSlots(Path(directory), DB)
    held = [slots.take("viewer", 3) for _ in range(count)]
    assert len(set(held)) == count
    ready.set()
    done.wait(30)  # then exits without giving them back: the kernel frees them


def refused(slots: StreamSlots, name: str, cap: int) -> str:
    with pytest.raises(ApiError) as caught:
        slots.take(name, cap)
    return caught.value.code


def test_the_cap_holds_across_processes(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    ready, done = context.Event(), context.Event()
    other = context.Process(target=hold_slots, args=(str(tmp_path), 2, ready, done))
    other.start()
    try:
        assert ready.wait(30)
        slots = StreamSlots(tmp_path, DB)
        mine = slots.take("viewer", 3)  # the third of three
        assert refused(slots, "viewer", 3) == "TOO_MANY_STREAMS"
        slots.give_back(mine)
        again = slots.take("viewer", 3)
        assert refused(slots, "viewer", 3) == "TOO_MANY_STREAMS"
        done.set()
        other.join(30)
        assert other.exitcode == 0
        # the other process died holding two: both are free
        assert len({slots.take("viewer", 3), slots.take("viewer", 3), again}) == 3
    finally:
        done.set()
        other.join(30)
        if other.is_alive():
            other.kill()


def test_tokens_and_databases_are_counted_apart(tmp_path: Path) -> None:
    one = StreamSlots(tmp_path, DB)
    other_db = StreamSlots(tmp_path, "mysql+pymysql://db/other")
    one.take("viewer", 1)
    assert refused(one, "viewer", 1) == "TOO_MANY_STREAMS"
    one.take("operator", 1)
    other_db.take("viewer", 1)
    assert len(os.listdir(tmp_path)) == 3


def test_an_unusable_lock_directory_is_one_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    error = refused(StreamSlots(blocker / "api-streams", DB), "viewer", 2)
    assert error == "STREAM_SLOTS_UNAVAILABLE"
