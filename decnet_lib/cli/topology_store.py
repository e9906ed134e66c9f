"""`decnet topology create | list | show | export | delete`: the stored topologies."""

from __future__ import annotations

from pathlib import Path

import typer

from decnet_lib.cli.context import publishing_settings, settings_of
from decnet_lib.cli.output import JSON_OPTION, echo, emit_json, fail, note, print_issues
from decnet_lib.errors import InvalidTopology


def create(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="Topology document (YAML or JSON)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Validate, resolve and store a topology (all or nothing)."""
    from decnet_lib.master import topologies
    from decnet_lib.master.database import transaction
    from decnet_lib.topology.loader import read_document_data
    from decnet_lib.topology.render import summary

    settings = publishing_settings(ctx)
    data = read_document_data(file, settings.max_document_bytes)
    try:
        with transaction(settings) as session:
            resolved, warnings = topologies.create_from_data(session, data)
    except InvalidTopology as exc:
        print_issues(exc.issues, err=True)
        fail(exc.message, code=exc.code)
    if as_json:
        emit_json(resolved.model_dump())
        return
    print_issues(warnings, err=True)
    info = summary(resolved)
    echo(f"created {info['name']} id={info['id']} status={info['status']} "
         f"lans={info['lans']} deckies={info['deckies']} hash={info['hash'][:16]}")


def list_cmd(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """List stored topologies."""
    from decnet_lib.master import topologies
    from decnet_lib.master.database import transaction

    with transaction(settings_of(ctx)) as session:
        rows = topologies.summaries(session)
    if as_json:
        emit_json(rows)
        return
    if not rows:
        echo("no topologies")
        return
    echo(f"{'NAME':<33}{'STATUS':<14}{'LANS':>5}{'DECKIES':>9}  HASH")
    for row in rows:
        echo(f"{row['name']:<33}{row['status']:<14}{row['lans']:>5}{row['deckies']:>9}  "
             f"{row['hash'][:16]}")


def show(ctx: typer.Context, name: str = typer.Argument(...),
         as_json: bool = JSON_OPTION) -> None:
    """Show a resolved topology: a per-LAN tree, or JSON with --json."""
    from decnet_lib.master import topologies
    from decnet_lib.master.database import transaction
    from decnet_lib.topology.render import render_tree

    with transaction(settings_of(ctx)) as session:
        resolved = topologies.show(session, name)
    if as_json:
        emit_json(resolved.model_dump())
        return
    for line in render_tree(resolved):
        echo(line)


def export(
    ctx: typer.Context,
    name: str = typer.Argument(...),
    fmt: str = typer.Option("yaml", "--format", help="yaml or json."),
) -> None:
    """Print the topology as a document `topology create` accepts (every IP pinned)."""
    if fmt not in ("yaml", "json"):
        fail(f"unknown format {fmt!r}: use yaml or json", code="BAD_PARAMETER", exit_code=2)
    from decnet_lib.master import topologies
    from decnet_lib.master.database import transaction
    from decnet_lib.topology.export import to_document
    from decnet_lib.topology.generator import dump_document

    with transaction(settings_of(ctx)) as session:
        resolved = topologies.show(session, name)
    text = dump_document(to_document(resolved), fmt)
    typer.echo(text, nl=not text.endswith("\n"))


def delete(
    ctx: typer.Context,
    name: str = typer.Argument(...),
    force: bool = typer.Option(
        False, "--force", help="Delete in any status (never while containers run)."
    ),
) -> None:
    """Delete a topology and all it owns; refused while any of its containers runs."""
    from decnet_lib.master import topologies
    from decnet_lib.master.database import transaction
    from decnet_lib.master.targets import targets_for

    settings = publishing_settings(ctx)
    with transaction(settings) as session:
        topologies.delete(session, name, force=force, targets=targets_for(settings))
    note(f"deleted {name}")


def register(group: typer.Typer) -> None:
    """Add the store commands to the `topology` group."""
    group.command("create")(create)
    group.command("list")(list_cmd)
    group.command("show")(show)
    group.command("export")(export)
    group.command("delete")(delete)
