"""The `decnet` command line: one module per command group, each with `register(app)`."""

from __future__ import annotations

import sys
from importlib import import_module

import click
import typer

from decnet_lib.errors import DecnetError

GROUP_MODULES = ("catalog", "topology", "db", "reconcile", "images")


def build_app() -> typer.Typer:
    """A fresh Typer app with every command group registered (mode gating included)."""
    app = typer.Typer(
        name="decnet",
        help="MazeNET by DECNET: mazes of decoy hosts on Docker.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )
    for name in GROUP_MODULES:
        import_module(f"decnet_lib.cli.{name}").register(app)
    return app


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `decnet` console script; user mistakes never print a traceback."""
    command = typer.main.get_command(build_app())
    try:
        result = command.main(args=argv, prog_name="decnet", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except DecnetError as exc:
        click.echo(f"error[{exc.code}]: {' '.join(exc.message.split())}", err=True)
        return exc.exit_code
    except BrokenPipeError:
        return 1
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
