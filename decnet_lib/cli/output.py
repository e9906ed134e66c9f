"""Output helpers: one JSON document on stdout, one-line errors on stderr."""

from __future__ import annotations

import sys
from typing import Any, NoReturn

import orjson
import typer

from decnet_lib.issues import Issue, clip_message

JSON_OPTION = typer.Option(False, "--json", help="Print one JSON document.")


def emit_json(document: Any) -> None:
    """Print exactly one JSON document on stdout."""
    sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")
    sys.stdout.flush()


def echo(text: str = "") -> None:
    """Print a line of human-readable output."""
    typer.echo(text)


def note(text: str) -> None:
    """Print a one-line note on stderr (never on stdout, so --json stays clean)."""
    typer.echo(text, err=True)


def fail(message: str, code: str = "ERROR", exit_code: int = 1) -> NoReturn:
    """Print `error[CODE]: message` on stderr and exit."""
    first_line = clip_message(" ".join(message.split()))
    typer.echo(f"error[{code}]: {first_line}", err=True)
    raise typer.Exit(exit_code)


def format_issue(issue: Issue) -> str:
    """One issue as one line."""
    return f"{issue.severity:<7} {issue.code:<22} {issue.target}: {issue.message}"


def print_issues(issues: list[Issue], err: bool = False) -> None:
    """Print issues one per line, errors first."""
    ordered = sorted(issues, key=lambda issue: issue.severity != "error")
    for issue in ordered:
        typer.echo(format_issue(issue), err=err)
