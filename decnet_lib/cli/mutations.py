"""`decnet topology mutate | mutations`: queue changes to a live topology and list them."""

from __future__ import annotations

from typing import Any

import orjson
import typer

from decnet_lib.cli.database import open_engine, open_session
from decnet_lib.cli.output import echo, emit_json, fail, note
from decnet_lib.db import Mutation
from decnet_lib.master.lifecycle import push_hook
from decnet_lib.mutations.payloads import PAYLOAD_MODELS
from decnet_lib.mutations.queue import enqueue_mutation, list_mutations
from decnet_lib.mutations.reconciler import wait_for_mutation
from decnet_lib.mutations.view import mutation_view

OPS_HELP = ", ".join(PAYLOAD_MODELS)


def _parse_json_object(text: str) -> dict[str, Any]:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        fail(f"--payload is not valid JSON: {exc}", code="BAD_PAYLOAD", exit_code=2)
    if not isinstance(value, dict):
        fail("--payload must be a JSON object", code="BAD_PAYLOAD", exit_code=2)
    return value


def mutate(
    name: str = typer.Argument(..., help="Topology name."),
    op: str = typer.Argument(..., help=f"One of: {OPS_HELP}."),
    payload: str = typer.Option("{}", "--payload", help="The op's payload as a JSON object."),
    wait: bool = typer.Option(False, "--wait", help="Apply it now and wait for the result."),
    timeout: float = typer.Option(120.0, help="Seconds to wait with --wait."),
    as_json: bool = typer.Option(False, "--json", help="Print the mutation as JSON."),
) -> None:
    """Queue one change to an active or degraded topology."""
    body = _parse_json_object(payload)
    with open_session() as session:
        mutation_id = enqueue_mutation(session, name, op, body).id
    if not wait:
        with open_session() as session:
            view = mutation_view(session.get_one(Mutation, mutation_id))
        _report(view, as_json)
        return
    engine = open_engine(sqlite_immediate=True)
    try:
        try:
            waited = wait_for_mutation(engine, mutation_id, push_hook(), timeout)
        except TimeoutError as exc:
            fail(str(exc), code="TIMEOUT")
        view = mutation_view(waited.mutation)
    finally:
        engine.dispose()
    _report(view, as_json)
    if view["state"] == "failed":
        error = view["error"] or {}
        fail(f"mutation {view['id']} failed: {error.get('code')}: {error.get('message')}",
             code=str(error.get("code", "FAILED")))
    if waited.push_error:
        fail(f"mutation {view['id']} was applied to the record but the target did not follow "
             f"({waited.push_error}); {name} is degraded", code="PUSH_FAILED")


def _report(view: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(view)
    else:
        note(f"mutation {view['id']} {view['op']} {view['state']}")


def mutations(
    name: str = typer.Argument(..., help="Topology name."),
    state: str | None = typer.Option(None, help="pending, applying, applied or failed."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """List a topology's mutations, oldest first."""
    if state not in (None, "pending", "applying", "applied", "failed"):
        fail(f"unknown state {state!r}", code="BAD_PARAMETER", exit_code=2)
    with open_session() as session:
        rows = [mutation_view(m) for m in list_mutations(session, name, state)]
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
