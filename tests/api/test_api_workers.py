"""`decnet api serve --workers N`: N forked workers on one port, the per-token stream cap
counted over all of them, a dead worker replaced, one SIGTERM stopping everything, and a
start that fails ending the server with status 1."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from api_server import REPO, Api, free_port, running_api, stop


def workers_of(pid: int) -> set[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return {int(child) for child in children}


def gone(pid: int) -> bool:
    """Has process `pid` exited (a zombie waiting for its reaper counts)?"""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def wait_for(check, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_workers_share_the_port_the_cap_and_stop_together(tmp_path: Path) -> None:
    with running_api(tmp_path, f"sqlite:///{tmp_path / 'db' / 'decnet.db'}",
                     api_workers="2", api_stream_max_per_token="2") as api:
        server = api.process.pid
        wait_for(lambda: len(workers_of(server)) == 2)
        first = workers_of(server)
        with contextlib.ExitStack() as held:
            opened = [held.enter_context(held.enter_context(api.client("viewer"))
                                         .stream("GET", "/api/v1/stream")) for _ in range(2)]
            assert [answer.status_code for answer in opened] == [200, 200]
            for _ in range(6):  # whichever worker takes the next connection refuses it
                with api.client("viewer") as third:
                    answer = third.get("/api/v1/stream")
                    assert answer.status_code == 429, answer.text
                    assert answer.json()["error"]["code"] == "TOO_MANY_STREAMS"
        assert_served(api)

        time.sleep(5.5)  # past the start window: a death now is not a failed start
        victim = sorted(first)[0]
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: victim not in workers_of(server) and len(workers_of(server)) == 2)
        assert_served(api)

        both = workers_of(server)
        os.kill(server, signal.SIGTERM)
        assert api.process.wait(20) == 0
        assert all(gone(pid) for pid in both)


def assert_served(api: Api) -> None:
    for _ in range(10):
        with api.client("viewer") as client:
            assert client.get("/api/v1/topologies").status_code == 200


def test_a_start_that_fails_stops_every_worker(tmp_path: Path) -> None:
    script = ("import sys\nfrom decnet_lib.api.workers import serve\n"
              "def broken():\n    raise RuntimeError('no app here')\n"
              f"sys.exit(serve(broken, '127.0.0.1', {free_port()}, 'warning', 2))\n")
    process = subprocess.Popen([sys.executable, "-c", script], cwd=REPO,
                               env={**os.environ, "PYTHONPATH": str(REPO)},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _, err = process.communicate(timeout=30)
    finally:
        stop(process)
    assert process.returncode == 1
    assert b"exited at start" in err
    assert b"Traceback" not in err.split(b"exited at start")[-1]


def test_workers_do_not_outlive_a_killed_server(tmp_path: Path) -> None:
    """A service manager's SIGKILL of the server (after its stop timeout) ends the workers."""
    with running_api(tmp_path, f"sqlite:///{tmp_path / 'db' / 'decnet.db'}",
                     api_workers="2") as api:
        server = api.process.pid
        wait_for(lambda: len(workers_of(server)) == 2)
        workers = workers_of(server)
        os.kill(server, signal.SIGKILL)
        api.process.wait(10)
        wait_for(lambda: all(gone(pid) for pid in workers))
