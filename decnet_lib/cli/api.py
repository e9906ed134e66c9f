"""The `decnet api` group (master-only): serve the REST API and manage its tokens."""

from __future__ import annotations

import typer

from decnet_lib.cli.context import settings_of
from decnet_lib.cli.gating import add_master_group
from decnet_lib.cli.output import JSON_OPTION, echo, emit_json, fail, note


def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8700, "--port", min=1, max=65535, help="TCP port."),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level."),
    workers: int | None = typer.Option(
        None, "--workers", min=1, max=64,
        help="Server processes on the one port (default: DECNET_API_WORKERS, 1)."),
) -> None:
    """Serve the master REST API (/api/v1) and the dashboard (/)."""
    try:
        import uvicorn  # noqa: F401 - checked here, used by api.workers

        from decnet_lib.api import create_app
        from decnet_lib.api.workers import serve as serve_app
    except ImportError as exc:
        fail(f"the API needs FastAPI and uvicorn (pip install 'mazenet[agent]'): {exc}",
             code="MISSING_DEPENDENCY")
    from decnet_lib.master.database import engine_scope

    settings = settings_of(ctx)
    with engine_scope(settings):  # an outdated or unreachable database: one line, no start
        pass
    count = workers if workers is not None else settings.api_workers
    status = serve_app(lambda: create_app(settings), host, port, log_level, count)
    if status:
        raise typer.Exit(status)


def create(
    ctx: typer.Context,
    name: str = typer.Option(..., "--name", help="Who or what holds the token."),
    role: str = typer.Option(..., "--role", help="viewer (reads) or operator (changes)."),
) -> None:
    """Create a token and print it, alone on stdout, once (only its hash is stored)."""
    from decnet_lib.master.api_tokens import create_token

    token = create_token(settings_of(ctx), name, role)
    echo(token)
    note(f"created {role} token {name!r}: it is shown only now")


def list_cmd(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """List tokens: name, role, created, last used (never the token)."""
    from decnet_lib.master.api_tokens import list_tokens

    rows = list_tokens(settings_of(ctx))
    if as_json:
        emit_json(rows)
        return
    if not rows:
        echo("no tokens")
        return
    echo(f"{'NAME':<33}{'ROLE':<10}{'CREATED':<34}LAST USED")
    for row in rows:
        echo(f"{row['name']:<33}{row['role']:<10}{row['created_at']:<34}"
             f"{row['last_used_at'] or '-'}")


def revoke(ctx: typer.Context, name: str = typer.Argument(..., help="Token name.")) -> None:
    """Delete a token: it stops working at once."""
    from decnet_lib.master.api_tokens import revoke_token

    revoke_token(settings_of(ctx), name)
    note(f"revoked {name}")


def register(app: typer.Typer) -> None:
    """Add `api serve` and `api token create|list|revoke` (master-only)."""
    group = typer.Typer(no_args_is_help=True)
    group.command("serve")(serve)
    tokens = typer.Typer(no_args_is_help=True, help="Bearer tokens of the API.")
    tokens.command("create")(create)
    tokens.command("list")(list_cmd)
    tokens.command("revoke")(revoke)
    group.add_typer(tokens, name="token")
    add_master_group(app, group, "api", "Serve the master REST API and manage its tokens.")
