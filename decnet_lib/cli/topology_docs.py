"""`decnet topology schema | validate | generate`: work on documents, not on the store."""

from __future__ import annotations

from pathlib import Path

import typer

from decnet_lib.cli.context import settings_of
from decnet_lib.cli.output import echo, emit_json, fail, note, print_issues
from decnet_lib.issues import has_errors


def schema() -> None:
    """Print the JSON Schema of the topology document."""
    from decnet_lib.topology.document import json_schema

    emit_json(json_schema())


def validate(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="Topology document (YAML or JSON)."),
    as_json: bool = typer.Option(False, "--json", help="Print {valid, issues} as JSON."),
) -> None:
    """Validate a document: exit 0 when valid, 1 when not, 2 when unreadable."""
    from decnet_lib.master.checks import with_stored_topologies
    from decnet_lib.master.documents import check_data
    from decnet_lib.topology.loader import loader_for, read_document_data

    settings = settings_of(ctx)
    data = read_document_data(file, settings.max_document_bytes)
    _loader, why_slow = loader_for(file)
    if why_slow:  # never silently slower: say why the C YAML builder stands aside
        note(f"note: YAML is loaded by PyYAML alone (slower): {why_slow}")
    issues = with_stored_topologies(settings, lambda session: check_data(session, data)[1],
                                    note)
    valid = not has_errors(issues)
    if as_json:
        emit_json({"valid": valid, "issues": [issue.to_dict() for issue in issues]})
    else:
        print_issues(issues)
        errors = sum(issue.severity == "error" for issue in issues)
        warnings = len(issues) - errors
        echo(f"{'valid' if valid else 'invalid'}: {errors} error(s), {warnings} warning(s)")
    raise typer.Exit(0 if valid else 1)


def generate_cmd(
    ctx: typer.Context,
    name: str = typer.Option(..., "--name", help="Topology name."),
    depth: int = typer.Option(2, help="Levels of LANs below the DMZ."),
    branching: int = typer.Option(2, help="Child LANs per LAN."),
    deckies_per_lan: str = typer.Option("1-3", help="Deckies per LAN, MIN-MAX."),
    cross_edge_p: float = typer.Option(0.0, help="Probability of an extra cross-LAN edge."),
    services: str | None = typer.Option(None, help="Fixed services, comma-separated."),
    seed: int | None = typer.Option(None, help="Random seed (same seed, same output)."),
    base: str = typer.Option("172.20.0.0/14", help="Address pool the subnets come from."),
    prefix: int = typer.Option(24, help="Prefix length of each LAN."),
    expose_p: float = typer.Option(0.0, help="Probability that a DMZ decky is exposed."),
    footholds: bool = typer.Option(
        False, "--footholds",
        help="ssh logins (service_config.ssh.accept, from the seed) on the bridge deckies "
        "from the DMZ to the deepest LAN: a maze an attacker can walk."),
    output: Path | None = typer.Option(None, "-o", "--output", help="Write to FILE."),
) -> None:
    """Generate a random valid maze document."""
    from decnet_lib.master.checks import with_stored_topologies
    from decnet_lib.master.topologies import neighbour_context
    from decnet_lib.topology.generator import (
        GeneratorParams,
        dump_document,
        generate,
        parse_range,
        pick_format,
    )

    try:
        low, high = parse_range(deckies_per_lan)
        params = GeneratorParams(
            name=name, depth=depth, branching=branching, deckies_min=low, deckies_max=high,
            cross_edge_p=cross_edge_p,
            services=tuple(s.strip() for s in services.split(",") if s.strip())
            if services else None,
            seed=seed, base=base, prefix=prefix, expose_p=expose_p, footholds=footholds,
        )
    except ValueError as exc:
        fail(str(exc), code="BAD_PARAMETER", exit_code=2)
    context = with_stored_topologies(settings_of(ctx), neighbour_context, note)
    used_subnets = [subnet for n in context.neighbours for subnet in n.subnets]
    used_ports = [port for n in context.neighbours for port in n.exposed_ports]
    try:
        document = generate(params, used_subnets=used_subnets, used_ports=used_ports)
    except ValueError as exc:
        fail(str(exc), code="BAD_PARAMETER", exit_code=2)
    text = dump_document(document, pick_format(output))
    if output is None:
        typer.echo(text, nl=not text.endswith("\n"))
        return
    temporary = output.with_name(f".{output.name}.tmp")
    try:
        temporary.write_text(text)
        temporary.replace(output)
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}", code="WRITE_FAILED")
    note(f"wrote {output}: {len(document['lans'])} LANs, {len(document['deckies'])} deckies")


def register(group: typer.Typer) -> None:
    """Add the document commands to the `topology` group."""
    group.command("schema")(schema)
    group.command("validate")(validate)
    group.command("generate")(generate_cmd)
