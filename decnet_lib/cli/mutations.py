"""`decnet topology mutate | mutations`: queue changes to a live topology and list them."""

from __future__ import annotations

from typing import Any

import orjson
import typer

from decnet_lib.cli.context import publishing_settings, settings_of
from decnet_lib.cli.output import JSON_OPTION, echo, emit_json, fail, note
from decnet_lib.master.vocabulary import MUTATION_STATES, OPS

OPS_HELP = ", ".join(OPS)


def _parse_json_object(text: str) -> dict[str, Any]:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        fail(f"--payload is not valid JSON: {exc}", code="BAD_PAYLOAD", exit_code=2)
    if not isinstance(value, dict):
        fail("--payload must be a JSON object", code="BAD_PAYLOAD", exit_code=2)
    return value


def mutate(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Topology name."),
    op: str = typer.Argument(..., help=f"One of: {OPS_HELP}."),
    payload: str = typer.Option("{}", "--payload", help="The op's payload as a JSON object."),
    wait: bool = typer.Option(False, "--wait", help="Apply it now and wait for the result."),
    timeout: float = typer.Option(120.0, help="Seconds to wait with --wait."),
    as_json: bool = typer.Option(False, "--json", help="Print the mutation as JSON."),
) -> None:
    """Queue one change to an active or degraded topology."""
    body = _parse_json_object(payload)
    from decnet_lib.master import mutations as use_case
    from decnet_lib.master.database import engine_scope
    from decnet_lib.master.targets import targets_for

    settings = publishing_settings(ctx)
    with engine_scope(settings) as engine:
        view = use_case.enqueue(engine, name, op, body)
    if not wait:
        _report(view, as_json)
        return
    with engine_scope(settings, sqlite_immediate=True) as engine:
        finished = use_case.wait(engine, view["id"], timeout, targets_for(settings))
    view = finished.view
    _report(view, as_json)
    if view["state"] == "failed":
        error = view["error"] or {}
        fail(f"mutation {view['id']} failed: {error.get('code')}: {error.get('message')}",
             code=str(error.get("code", "FAILED")))
    if finished.push_error:
        fail(f"mutation {view['id']} was applied to the record but the target did not follow "
             f"({finished.push_error}); {name} is degraded", code="PUSH_FAILED")


def _report(view: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(view)
    else:
        note(f"mutation {view['id']} {view['op']} {view['state']}")


def mutations(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Topology name."),
    state: str | None = typer.Option(None, help="pending, applying, applied or failed."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List a topology's mutations, oldest first."""
    if state is not None and state not in MUTATION_STATES:
        fail(f"unknown state {state!r}", code="BAD_PARAMETER", exit_code=2)
    from decnet_lib.master import mutations as use_case
    from decnet_lib.master.database import transaction

    with transaction(settings_of(ctx)) as session:
        rows = use_case.list_views(session, name, state)
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        error = row["error"] or {}
        reason = f"  {error.get('code')}: {error.get('message')}" if error else ""
        echo(f"{row['id']:>8}  {row['state']:<9} {row['op']:<13} "
             f"{orjson.dumps(row['payload']).decode()}{reason}")


def register(group: typer.Typer) -> None:
    """Add the mutation commands to the `topology` group."""
    group.command("mutate")(mutate)
    group.command("mutations")(mutations)
