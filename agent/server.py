"""Serve the agent with uvicorn: mutual TLS by default, plain HTTP only when asked (tests)."""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import uvicorn
from fastapi import FastAPI
from uvicorn.config import HTTP_PROTOCOLS
from uvicorn.importer import import_from_string

from agent.deps import STATE_SUBDIR
from agent.state import StateStore
from agent.tls_gate import HandshakeGate, gated_protocol, server_context
from decnet_lib.errors import DecnetError
from decnet_lib.logs.collector import LogCollector
from decnet_lib.logs.sink import check_log_paths

if TYPE_CHECKING:
    from decnet_lib.settings import Settings

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
MAX_CONNECTIONS = 256  # authenticated connections and tasks; more get 503 at once
log = logging.getLogger("decnet.agent")


class AgentConfigError(DecnetError):
    """The agent cannot start as configured (missing or unusable TLS files)."""

    code = "AGENT_CONFIG"


@dataclass(frozen=True)
class TlsFiles:
    """The agent's server certificate and key, and the CA its clients' certs must chain to."""

    cert: Path
    key: Path
    ca: Path

    @classmethod
    def defaults(cls, settings: Settings) -> TlsFiles:
        """DECNET_STATE_DIR/pki/agent.crt, agent.key and ca.crt."""
        pki = settings.state_dir / "pki"
        return cls(pki / "agent.crt", pki / "agent.key", pki / "ca.crt")

    def check(self) -> None:
        """Raise AgentConfigError unless the files exist and make a usable TLS context."""
        missing = [str(p) for p in (self.cert, self.key, self.ca) if not p.is_file()]
        if missing:
            raise AgentConfigError(
                f"missing TLS file(s): {', '.join(missing)}; make them with `decnet pki init` "
                "and `decnet pki issue agent --server`, or pass --insecure-http (tests only)"
            )
        try:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.cert, self.key)
            context.load_verify_locations(cafile=self.ca)
        except (ssl.SSLError, OSError, ValueError) as exc:
            raise AgentConfigError(f"unusable TLS files ({self.cert}, {self.key}, {self.ca}): "
                                   f"{exc}") from None


def uvicorn_config(
    app: FastAPI,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    tls: TlsFiles | None = None,
    log_level: str = "info",
) -> uvicorn.Config:
    """A uvicorn config; with `tls`, clients must present a certificate from its CA, and
    the TLS handshakes run under a gate (bounded in number and time, see tls_gate)."""
    options: dict[str, object] = {}
    if tls is not None:
        gate = HandshakeGate(server_context(str(tls.cert), str(tls.key), str(tls.ca)))
        inner = import_from_string(HTTP_PROTOCOLS["auto"])
        options = {"http": gated_protocol(inner, gate)}
        app.state.tls_gate = gate
    return uvicorn.Config(app, host=host, port=port, log_level=log_level, lifespan="on",
                          proxy_headers=False, server_header=False,
                          limit_concurrency=MAX_CONNECTIONS, timeout_keep_alive=5,
                          **options)  # type: ignore[arg-type]


def serve(
    settings: Settings,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    tls: TlsFiles | None = None,
    log_level: str = "info",
) -> None:
    """Run the agent until SIGINT/SIGTERM (then the shutdown hooks run)."""
    from agent.app import create_app

    if tls is not None:
        tls.check()
    else:
        log.warning("serving plain HTTP without client certificates on %s:%d: for tests only",
                    host, port)
    check_log_paths(settings)  # a clash is refused at boot (this touches no Docker object)
    app = create_app(settings)
    attach_collector(app, settings)
    config = uvicorn_config(app, host, port, tls, log_level)
    uvicorn.Server(config).run()


def attach_collector(app: FastAPI, settings: Settings) -> LogCollector:
    """The log collector starts on the first successful apply, or at boot when the agent
    already holds a topology (after a restart), and stops with the app; it follows only the
    containers of the topologies this agent holds."""
    store = StateStore(settings.state_dir / STATE_SUBDIR)
    collector = LogCollector(settings, held_topologies=store.held_ids)
    app.state.hooks.on_first_successful_apply.append(collector.start)
    app.state.hooks.resume_at_boot = lambda: bool(store.held_ids())
    app.state.hooks.on_shutdown.append(collector.stop)
    return collector
