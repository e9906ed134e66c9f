"""The `decnet web` group: serve the dashboard bundle with `/api/*` proxied to the API."""

from __future__ import annotations

from urllib.parse import urlsplit

import typer

from decnet_lib.cli.context import settings_of
from decnet_lib.cli.gating import add_master_group
from decnet_lib.cli.output import fail, note

DEFAULT_PORT = 8090


def checked_api_url(url: str) -> str:
    """The API base URL, or a one-line USAGE error for anything but http(s)://host[:port]."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname \
            or parts.query or parts.fragment:
        fail(f"--api must be an http(s) URL such as http://127.0.0.1:8700, not {url!r}",
             code="USAGE", exit_code=2)
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        fail(f"--api has a bad port: {url!r}", code="USAGE", exit_code=2)
    return url.rstrip("/")


def serve(
    ctx: typer.Context,
    api: str = typer.Option(..., "--api", help="Base URL of the API (`decnet api serve`)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(DEFAULT_PORT, "--port", min=1, max=65535, help="TCP port."),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level."),
) -> None:
    """Serve the dashboard and forward `/api/*` (every method, SSE streamed) to the API.

    The bundle is DECNET_API_BUNDLE_DIR's when set (as for `decnet api serve`), else the
    package's."""
    api_url = checked_api_url(api)
    import uvicorn

    from decnet_lib.web import BUNDLE_DIR
    from decnet_lib.web.app import create_app

    bundle = settings_of(ctx).api_bundle_dir or BUNDLE_DIR
    note(f"dashboard on http://{host}:{port}/ (bundle {bundle}, API {api_url})")
    uvicorn.run(create_app(api_url, bundle), host=host, port=port, log_level=log_level,
                proxy_headers=False, server_header=False)


def register(app: typer.Typer) -> None:
    """Add `web serve` (master-only)."""
    group = typer.Typer(no_args_is_help=True)
    group.command("serve")(serve)
    add_master_group(app, group, "web", "Serve the dashboard on its own, proxying the API.")
