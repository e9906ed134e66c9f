"""The agent's on-disk state: atomic writes, the error breadcrumb, unreadable files."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import orjson
import pytest

from agent.hooks import Hooks
from agent.state import StateStore, write_json_atomic

TOPOLOGY = {"id": "f" * 32, "name": "acme", "lans": [{"name": "dmz"}], "deckies": []}


def test_pin_status_unpin(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "agent")
    assert store.pinned() is None and store.set_status("active") is None
    store.pin(TOPOLOGY, "h1")
    pinned = store.pinned()
    assert pinned is not None and (pinned.id, pinned.name, pinned.hash) == ("f" * 32, "acme", "h1")
    assert pinned.status == "deploying"
    store.set_status("active", {"changed": True})
    again = store.pinned()
    assert again is not None and again.status == "active" and again.summary == {"changed": True}
    assert stat.S_IMODE((tmp_path / "agent").stat().st_mode) == 0o700
    store.unpin()
    store.unpin()  # gone already is fine
    assert store.pinned() is None


def test_record_error_keeps_the_resolved_topology(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    store.record_error(TOPOLOGY, "h2", "container x:\n create failed", {"errors": [1]})
    on_disk = orjson.loads((tmp_path / "last_error.json").read_bytes())
    assert on_disk["topology"] == TOPOLOGY and on_disk["error"] == "container x: create failed"
    last = store.last_error()
    assert last is not None and last.public()["topology_id"] == "f" * 32
    assert "topology" not in last.public() and last.public(full=True)["topology"] == TOPOLOGY
    assert store.known("f" * 32) == last and store.known("other") is None
    store.clear_error()
    assert store.last_error() is None


def test_atomic_write_leaves_old_content_when_interrupted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "pinned.json"
    write_json_atomic(path, {"v": 1})

    def boom(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError, match="disk full"):
        write_json_atomic(path, {"v": 2})
    assert orjson.loads(path.read_bytes()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["pinned.json"]  # no temporary file left


def test_unreadable_state_is_moved_aside(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    (tmp_path / "pinned.json").write_text("{truncated")
    (tmp_path / "last_error.json").write_text('{"no": "topology"}')
    assert store.pinned() is None and store.last_error() is None
    names = sorted(p.name.split("-")[0] for p in tmp_path.iterdir())
    assert names == ["last_error.json.corrupt", "pinned.json.corrupt"]


def test_first_apply_hooks_run_once_and_failures_are_contained() -> None:
    hooks, seen = Hooks(), []
    hooks.on_first_successful_apply.extend([lambda: seen.append("a"), lambda: 1 / 0,
                                            lambda: seen.append("b")])
    hooks.on_shutdown.append(lambda: seen.append("stop"))
    hooks.first_successful_apply()
    hooks.first_successful_apply()
    hooks.shutdown()
    assert seen == ["a", "b", "stop"] and hooks.fired


def test_boot_resumes_the_first_apply_hooks_only_when_a_topology_is_held() -> None:
    idle, seen = Hooks(), []
    idle.on_first_successful_apply.append(lambda: seen.append("idle"))
    idle.boot()  # holds nothing: the collector waits for an apply
    assert seen == [] and not idle.fired

    restarted = Hooks(resume_at_boot=lambda: True)
    restarted.on_first_successful_apply.append(lambda: seen.append("resumed"))
    restarted.boot()
    restarted.first_successful_apply()  # the next apply does not start it twice
    assert seen == ["resumed"]

    broken = Hooks(resume_at_boot=lambda: 1 / 0)  # a state store that cannot be read
    broken.on_first_successful_apply.append(lambda: seen.append("broken"))
    broken.boot()
    assert seen == ["resumed"] and not broken.fired
