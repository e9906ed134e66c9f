"""The `decnet agent` group: serve the agent API (available in master and agent mode)."""

from __future__ import annotations

from pathlib import Path

import typer

from decnet_lib.cli.context import settings_of
from decnet_lib.cli.output import fail
from decnet_lib.errors import DecnetError


def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8765, "--port", min=1, max=65535, help="TCP port."),
    cert: Path | None = typer.Option(
        None, "--cert", help="Server certificate (default: DECNET_STATE_DIR/pki/agent.crt)."),
    key: Path | None = typer.Option(
        None, "--key", help="Server key (default: DECNET_STATE_DIR/pki/agent.key)."),
    ca: Path | None = typer.Option(
        None, "--ca", help="CA that client certificates must chain to "
        "(default: DECNET_STATE_DIR/pki/ca.crt)."),
    insecure_http: bool = typer.Option(
        False, "--insecure-http",
        help="Plain HTTP without client certificates. For tests only: anyone who can reach "
        "the port can deploy and remove containers."),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level."),
) -> None:
    """Serve the agent API with mutual TLS (clients need a certificate from the CA)."""
    try:
        from agent.server import TlsFiles
        from agent.server import serve as run
    except ImportError as exc:
        fail(f"the agent needs its extra dependencies (pip install 'mazenet[agent]'): {exc}",
             code="MISSING_DEPENDENCY")
    settings = settings_of(ctx)
    tls = None
    if not insecure_http:
        defaults = TlsFiles.defaults(settings)
        tls = TlsFiles(cert or defaults.cert, key or defaults.key, ca or defaults.ca)
    elif cert or key or ca:
        fail("--insecure-http cannot be combined with --cert/--key/--ca", code="USAGE",
             exit_code=2)
    try:
        run(settings, host, port, tls, log_level)
    except DecnetError as exc:
        fail(exc.message, code=exc.code)


def register(app: typer.Typer) -> None:
    """Add `agent serve` to the app (not master-only: agents run it)."""
    group = typer.Typer(no_args_is_help=True, help="Run the agent that deploys on this host.")
    group.command("serve")(serve)
    app.add_typer(group, name="agent")
