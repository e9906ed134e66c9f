"""The per-topology host lock: one holder at a time, released with its holder."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from decnet_lib.deploy.failures import DeployError
from decnet_lib.deploy.host_lock import lock_path, topology_lock


def test_a_second_holder_waits_then_gives_up_with_one_line(tmp_path: Path) -> None:
    with topology_lock("t1", tmp_path):
        busy = pytest.raises(DeployError, match="another process has been changing topology t1")
        with busy, topology_lock("t1", tmp_path, timeout=0.2):
            pass
        with topology_lock("t2", tmp_path, timeout=0.2):  # other topologies are free
            pass
    with topology_lock("t1", tmp_path, timeout=0.2):  # released with its holder
        pass


def test_a_waiting_holder_gets_the_lock_when_it_is_released(tmp_path: Path) -> None:
    order: list[str] = []
    held = threading.Event()

    def first() -> None:
        with topology_lock("t", tmp_path):
            held.set()
            threading.Event().wait(0.3)
            order.append("first done")

    thread = threading.Thread(target=first)
    thread.start()
    held.wait(5)
    with topology_lock("t", tmp_path, timeout=5):
        order.append("second in")
    thread.join()
    assert order == ["first done", "second in"]


def test_any_id_is_a_safe_file_name(tmp_path: Path) -> None:
    path = lock_path("../../etc/passwd", tmp_path)
    assert path.parent == tmp_path and path.suffix == ".lock" and "/" not in path.name


def test_an_unusable_directory_is_one_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(DeployError, match="cannot open the deploy lock"), \
            topology_lock("t", blocker / "locks"):
        pass
