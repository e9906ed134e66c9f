"""Serve an ASGI app from one process or from several forked workers on one listening socket.

One worker is plain `uvicorn.run`. With N > 1 the parent binds the socket, forks N workers
that each build the app (`make_app`, after the fork: no engine, thread or event loop crosses
it) and serve that socket, and supervises them: SIGTERM/SIGINT go to every worker and the
parent waits for them; a worker that dies is replaced, unless it died within
`CRASH_WINDOW_SECONDS` of its start (a start that fails, e.g. an unreachable database), then
the others are stopped and the parent exits 1. A worker whose parent dies (even by SIGKILL)
gets SIGTERM from the kernel. Settings reach the workers by the fork, so CLI options work
as they do with one process.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

CRASH_WINDOW_SECONDS = 5.0
PR_SET_PDEATHSIG = 1  # prctl(2)
FORWARDED = (signal.SIGTERM, signal.SIGINT)
STARTUP_FAILED = 3  # uvicorn's own exit status for an app that did not start


def serve(make_app: Callable[[], Any], host: str, port: int, log_level: str,
          workers: int = 1) -> int:
    """Serve `make_app()` on host:port with `workers` processes; the exit status."""
    import uvicorn

    config = uvicorn.Config(make_app, factory=True, host=host, port=port,
                            log_level=log_level, proxy_headers=False)
    if workers <= 1:
        server = uvicorn.Server(config)
        server.run()
        return 0 if server.started else STARTUP_FAILED
    listener = config.bind_socket()
    return Supervisor(config, listener, workers).run()


def stop_with_parent() -> None:
    """Have the kernel send this process SIGTERM when its parent dies (a parent killed with
    SIGKILL by a service manager must not leave its workers serving the port)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


class Supervisor:
    """The parent of the forked workers."""

    def __init__(self, config: Any, listener: Any, workers: int) -> None:
        self.config, self.listener, self.count = config, listener, workers
        self.workers: dict[int, float] = {}  # pid -> start (monotonic)
        self.stopping = False
        self.status = 0

    def run(self) -> int:
        previous = {sig: signal.signal(sig, self._on_signal) for sig in FORWARDED}
        try:
            for _ in range(self.count):
                self._spawn()
            while self.workers:
                try:
                    pid, wait_status = os.wait()
                except ChildProcessError:
                    break
                self._reap(pid, wait_status)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.listener.close()
        return self.status

    def _spawn(self) -> None:
        if self.stopping:
            return
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:
            os._exit(self._child(parent))
        self.workers[pid] = time.monotonic()

    def _child(self, parent: int) -> int:
        """In the worker: serve the shared socket until told to stop (or the parent dies)."""
        for sig in FORWARDED:
            signal.signal(sig, signal.SIG_DFL)  # uvicorn installs its own while serving
        stop_with_parent()
        if os.getppid() != parent:  # it died before that took effect
            return 0
        try:
            import uvicorn

            server = uvicorn.Server(self.config)
            server.run(sockets=[self.listener])
            return 0 if server.started else STARTUP_FAILED
        except BaseException as exc:
            print(f"decnet api: worker {os.getpid()} failed: {exc}", file=sys.stderr)
            return 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()

    def _reap(self, pid: int, wait_status: int) -> None:
        started = self.workers.pop(pid, None)
        if started is None or self.stopping:
            return
        code = os.waitstatus_to_exitcode(wait_status)
        if time.monotonic() - started < CRASH_WINDOW_SECONDS:
            print(f"decnet api: worker {pid} exited at start ({code}): stopping",
                  file=sys.stderr)
            self.status = 1
            self._stop_all()
            return
        print(f"decnet api: worker {pid} exited ({code}): starting another", file=sys.stderr)
        self._spawn()

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self._stop_all()

    def _stop_all(self) -> None:
        self.stopping = True
        for pid in list(self.workers):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
