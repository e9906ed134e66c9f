"""The `decnet db` group (master-only): create, upgrade or reset the schema."""

from __future__ import annotations

import typer

from decnet_lib.cli.context import settings_of
from decnet_lib.cli.gating import add_master_group
from decnet_lib.cli.output import fail, note


def init(ctx: typer.Context) -> None:
    """Create the schema, or bring an existing database to the newest revision."""
    from decnet_lib.master.database import init_database

    done = init_database(settings_of(ctx))
    note(f"database ready (schema {done.after})")


def upgrade(ctx: typer.Context) -> None:
    """Migrate the schema to the newest revision, every row kept (idempotent)."""
    from decnet_lib.master.database import upgrade_database

    done = upgrade_database(settings_of(ctx))
    if done.created:
        note(f"database created at schema {done.after}")
    elif done.before == done.after:
        note(f"database already at schema {done.after}")
    else:
        before = done.before or "the schema from before migrations"
        note(f"database upgraded from {before} to {done.after}")


def reset(ctx: typer.Context,
          yes: bool = typer.Option(False, "--yes", help="Confirm: every row is lost.")) -> None:
    """Drop and recreate every table, in foreign-key order taken from the schema."""
    if not yes:
        fail("db reset deletes every row: add --yes to confirm", code="CONFIRM", exit_code=2)
    from decnet_lib.master.database import reset_database

    reset_database(settings_of(ctx))
    note("database reset")


def register(app: typer.Typer) -> None:
    """Add `db init | upgrade | reset` to the app."""
    group = typer.Typer(no_args_is_help=True)
    group.command("init")(init)
    group.command("upgrade")(upgrade)
    group.command("reset")(reset)
    add_master_group(app, group, "db", "Create, upgrade or reset the master database.")
