"""`decnet services` and `decnet archetypes`: what the catalog offers."""

from __future__ import annotations

import typer

from decnet_lib.cli.output import JSON_OPTION, echo, emit_json


def services(as_json: bool = JSON_OPTION) -> None:
    """List emulated services with their ports and config keys."""
    from decnet_lib.master.catalog import service_rows

    rows = service_rows()
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        echo(f"{row['name']:<14}{' '.join(row['ports']):<18}{row['description']}"
             f"  [config: {', '.join(row['config'])}]")


def archetypes(as_json: bool = JSON_OPTION) -> None:
    """List archetypes and the services they add."""
    from decnet_lib.master.catalog import archetype_rows

    rows = archetype_rows()
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        echo(f"{row['name']:<22}{','.join(row['services']) or '-':<32}{row['description']}")


def register(app: typer.Typer) -> None:
    """Add `services` and `archetypes` to the app."""
    app.command("services")(services)
    app.command("archetypes")(archetypes)
