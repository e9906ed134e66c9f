"""The agent log sink: appends whole lines, survives rotation, refuses the ingest file."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from decnet_lib.errors import DecnetError
from decnet_lib.logs.sink import (
    LineSink,
    LogPathClash,
    LogSinkError,
    check_log_paths,
    same_file,
)
from decnet_lib.settings import Settings


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(state_dir=tmp_path, db_url="sqlite://", bus_socket=tmp_path / "bus.sock",
                    agent_log_file=tmp_path / "agent.log",
                    ingest_log_file=tmp_path / "ingest.log", mode="agent")


def test_appends_lines_and_creates_directories(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "agent.log"
    path.parent.mkdir(parents=True)
    path.write_text("kept\n")
    with LineSink(path) as sink:
        sink.write_line("one")
        sink.write_lines(["two", "three"])
        sink.write_lines([])
    assert lines(path) == ["kept", "one", "two", "three"]
    fresh = tmp_path / "new" / "dir" / "x.log"
    with LineSink(fresh) as sink:
        sink.write_line("é")
    assert fresh.read_bytes() == "é\n".encode()
    assert fresh.stat().st_mode & 0o777 == 0o640 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_rejects_line_breaks_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "agent.log"
    with LineSink(path) as sink:
        for bad in ("a\nb", "a\rb", "end\n"):
            with pytest.raises(ValueError):
                sink.write_line(bad)
        with pytest.raises(ValueError):
            sink.write_lines(["fine", "not\nfine"])
    assert path.read_text() == ""


def test_unencodable_text_is_escaped_not_raised(tmp_path: Path) -> None:
    path = tmp_path / "agent.log"
    with LineSink(path) as sink:
        sink.write_line("x\udcff")
    assert path.read_text() == "x\\udcff\n"


def test_rename_mid_stream_reopens_a_new_file(tmp_path: Path) -> None:
    path, rotated = tmp_path / "agent.log", tmp_path / "agent.log.1"
    with LineSink(path) as sink:
        sink.write_line("before")
        path.rename(rotated)
        sink.write_line("after")
        sink.write_line("after 2")
        assert sink.reopens == 1
    assert lines(rotated) == ["before"]
    assert lines(path) == ["after", "after 2"]


def test_delete_mid_stream_reopens(tmp_path: Path) -> None:
    path = tmp_path / "agent.log"
    with LineSink(path) as sink:
        sink.write_line("old")
        path.unlink()
        sink.write_line("new")
    assert lines(path) == ["new"]


def test_directory_removed_and_file_replaced(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "agent.log"
    with LineSink(path) as sink:
        sink.write_line("a")
        path.unlink()
        path.parent.rmdir()
        sink.write_line("b")  # the directory is made again
        path.unlink()
        path.write_text("someone else's\n")  # a new file at the path: ours now
        sink.write_line("c")
        assert sink.reopens == 2
    assert lines(path) == ["someone else's", "c"]


def test_truncation_keeps_appending_at_the_new_end(tmp_path: Path) -> None:
    path = tmp_path / "agent.log"
    with LineSink(path) as sink:
        sink.write_line("x" * 1000)
        with open(path, "r+") as handle:  # logrotate copytruncate
            handle.truncate(0)
        sink.write_line("short")
        assert sink.truncations == 1 and sink.reopens == 0
    assert path.read_bytes() == b"short\n"  # no hole of NULs


def test_write_after_close_is_refused(tmp_path: Path) -> None:
    sink = LineSink(tmp_path / "agent.log")
    sink.close()
    sink.close()
    with pytest.raises(LogSinkError):
        sink.write_line("late")


def test_threads_never_interleave_lines(tmp_path: Path) -> None:
    path, rotated = tmp_path / "agent.log", tmp_path / "agent.log.1"
    sink = LineSink(path)
    per_thread, threads = 400, 8
    barrier = threading.Barrier(threads + 1)

    def writer(n: int) -> None:
        barrier.wait()
        for i in range(per_thread):
            sink.write_line(f"t{n}-{i}-" + "y" * (i % 300))

    workers = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    barrier.wait()
    path.rename(rotated)  # rotate while they write
    for worker in workers:
        worker.join()
    sink.close()
    got = lines(rotated) + lines(path)
    assert len(got) == per_thread * threads
    assert len(set(got)) == len(got)
    for line in got:
        _, i, tail = line.split("-")
        assert tail == "y" * (int(i) % 300)


# -- same-file refusal ----------------------------------------------------------------------


def test_distinct_paths_are_accepted(settings: Settings) -> None:
    check_log_paths(settings)
    settings.agent_log_file.write_text("")
    settings.ingest_log_file.write_text("")
    check_log_paths(settings)


def test_same_path_is_refused(settings: Settings, tmp_path: Path) -> None:
    clash = settings.model_copy(update=dict(ingest_log_file=tmp_path / "x" / ".." / "agent.log"))
    with pytest.raises(LogPathClash) as err:
        check_log_paths(clash)
    assert isinstance(err.value, DecnetError) and err.value.code == "LOG_PATH_CLASH"
    assert "\n" not in str(err.value)


def test_relative_path_is_resolved(settings: Settings, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(LogPathClash):
        check_log_paths(settings.model_copy(update=dict(ingest_log_file=Path("agent.log"))))


def test_symlink_to_the_same_file_is_refused(settings: Settings, tmp_path: Path) -> None:
    link = tmp_path / "ingest-link.log"
    link.symlink_to(settings.agent_log_file)  # dangling for now: still the same file
    with pytest.raises(LogPathClash):
        check_log_paths(settings.model_copy(update=dict(ingest_log_file=link)))
    settings.agent_log_file.write_text("")
    with pytest.raises(LogPathClash):
        check_log_paths(settings.model_copy(update=dict(ingest_log_file=link)))


def test_symlinked_directory_is_refused(settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "real")
    clash = settings.model_copy(update=dict(agent_log_file=tmp_path / "real" / "l.log",
                    ingest_log_file=tmp_path / "alias" / "l.log"))
    with pytest.raises(LogPathClash):
        check_log_paths(clash)


def test_hard_link_is_refused(settings: Settings, tmp_path: Path) -> None:
    settings.agent_log_file.write_text("")
    hard = tmp_path / "hard.log"
    os.link(settings.agent_log_file, hard)
    assert same_file(settings.agent_log_file, hard)
    with pytest.raises(LogPathClash):
        check_log_paths(settings.model_copy(update=dict(ingest_log_file=hard)))
