"""`python -m agent serve ...`: the same command as `decnet agent serve`."""

from __future__ import annotations

import sys

import typer

from decnet_lib.cli.agent import register


def main(argv: list[str] | None = None) -> None:
    """Run `agent <argv>` in standalone mode (usage errors print one message, exit 2)."""
    app = typer.Typer(name="agent", no_args_is_help=True, add_completion=False,
                      pretty_exceptions_enable=False)
    register(app)
    command = typer.main.get_command(app)
    command.main(args=["agent", *(argv if argv is not None else sys.argv[1:])],
                 prog_name="python -m", standalone_mode=True)


if __name__ == "__main__":
    main()
