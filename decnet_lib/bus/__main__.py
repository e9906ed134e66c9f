"""`python -m decnet_lib.bus bus serve|tail|pub`: the `decnet bus` group on its own app.

Same commands as `decnet bus ...`, usable before the group is listed in decnet_lib.cli.
"""

from __future__ import annotations

import typer

from decnet_lib.cli.bus import register


def build_app() -> typer.Typer:
    """An app with only the `bus` group."""
    app = typer.Typer(name="decnet", no_args_is_help=True, pretty_exceptions_enable=False,
                      add_completion=False)
    register(app)
    return app


if __name__ == "__main__":
    build_app()(prog_name="decnet")
