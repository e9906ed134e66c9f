"""The `decnet` command line: one module per command group, each with `register(app)`.

Command modules import only Typer and light helpers at import time; the use cases
(`decnet_lib.master`) and what they pull in (SQLAlchemy, Docker, FastAPI) are imported by
the command that runs, so `decnet --help` stays close to a bare Typer app.
"""

from __future__ import annotations

import sys
from importlib import import_module

import typer

from decnet_lib.cli.context import CliState
from decnet_lib.errors import DecnetError

# Typer may vendor its own click: take click's exception base from Typer's public BadParameter.
ClickException: type[Exception] = next(
    base for base in typer.BadParameter.__mro__ if base.__name__ == "ClickException"
)

GROUP_MODULES = ("catalog", "topology", "db", "reconcile", "events", "images", "pki", "agent",
                 "bus", "api", "web")


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
    """Entry point of the `decnet` console script: errors are one line, never a traceback.

    Usage mistakes print `error[USAGE]: ...` (exit 2); our own errors are DecnetError
    subclasses, printed as `error[CODE]: message` with their exit code.
    """
    command = typer.main.get_command(build_app())
    state = CliState()
    try:
        result = command.main(args=argv, prog_name="decnet", standalone_mode=False,
                              obj=state)
    except typer.Abort:
        print("aborted", file=sys.stderr)
        return 130
    except ClickException as exc:
        context = getattr(exc, "ctx", None)
        exit_code = getattr(exc, "exit_code", 2)
        if type(exc).__name__ == "NoArgsIsHelpError" and context is not None:
            print(context.get_help(), file=sys.stderr)
            return exit_code
        hint = f" (see '{context.command_path} --help')" if context is not None else ""
        message = " ".join(exc.format_message().split())  # type: ignore[attr-defined]
        print(f"error[USAGE]: {message}{hint}", file=sys.stderr)
        return exit_code
    except DecnetError as exc:
        print(f"error[{exc.code}]: {' '.join(exc.message.split())}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    finally:
        state.close()
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
