"""Run the agent (or any ASGI app) under uvicorn in a background thread.

For embedding and tests: binds before it returns (port 0 picks a free port), serves with the
same configuration as `decnet agent serve` (mutual TLS when `tls` is given), stops cleanly
(the lifespan's shutdown hooks run).

    with BackgroundServer(create_app(settings), tls=TlsFiles(...)) as server:
        AgentClient(server.url, ...).health()
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

import uvicorn
from fastapi import FastAPI

from agent.server import DEFAULT_HOST, TlsFiles, uvicorn_config


class BackgroundServer:
    """A uvicorn server on its own thread and event loop."""

    def __init__(
        self,
        app: FastAPI,
        host: str = DEFAULT_HOST,
        port: int = 0,
        tls: TlsFiles | None = None,
        log_level: str = "warning",
    ) -> None:
        self.app = app
        self.host = host
        self.tls = tls
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn_config(app, host, self.port, tls, log_level)
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self._socket]},
            name=f"agent-{self.port}", daemon=True,
        )

    @property
    def url(self) -> str:
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> BackgroundServer:
        """Start serving; returns once the server accepts connections."""
        if self.tls is not None:
            self.tls.check()
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the agent server stopped while starting")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"the agent server did not start within {timeout}s")
            time.sleep(0.02)
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """Ask uvicorn to exit (lifespan shutdown runs) and wait for the thread."""
        self.server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._socket.close()

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
