"""Atomic JSON files: concurrent writers never leave a mixed or missing file."""

from __future__ import annotations

import threading
from pathlib import Path

import orjson

from decnet_lib.atomic_files import write_json_atomic


def test_concurrent_writers_each_land_whole(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    write_json_atomic(path, {"writer": -1, "n": 0})
    errors: list[BaseException] = []
    seen: list[dict] = []

    def writer(number: int) -> None:
        try:
            for n in range(150):
                write_json_atomic(path, {"writer": number, "n": n, "pad": "x" * 4000})
        except BaseException as exc:  # collected: the assertion below names it
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(3)]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        seen.append(orjson.loads(path.read_bytes()))  # always a whole document
    for thread in threads:
        thread.join()
    assert errors == []
    assert orjson.loads(path.read_bytes())["n"] == 149
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
