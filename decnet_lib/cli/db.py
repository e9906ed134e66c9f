"""The `decnet db` group (master-only): create or reset the schema."""

from __future__ import annotations

import typer

from decnet_lib.cli.database import open_engine
from decnet_lib.cli.gating import add_master_group
from decnet_lib.cli.output import fail, note
from decnet_lib.db import reset_db


def init() -> None:
    """Create every table (idempotent)."""
    open_engine(create=True).dispose()
    note("database ready")


def reset(yes: bool = typer.Option(False, "--yes", help="Confirm: every row is lost.")) -> None:
    """Drop and recreate every table, in foreign-key order taken from the schema."""
    if not yes:
        fail("db reset deletes every row: add --yes to confirm", code="CONFIRM", exit_code=2)
    engine = open_engine(create=False)
    try:
        reset_db(engine)
    finally:
        engine.dispose()
    note("database reset")


def register(app: typer.Typer) -> None:
    """Add `db init | reset` to the app."""
    group = typer.Typer(no_args_is_help=True)
    group.command("init")(init)
    group.command("reset")(reset)
    add_master_group(app, group, "db", "Create or reset the master database.")
