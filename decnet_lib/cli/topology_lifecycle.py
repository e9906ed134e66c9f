"""`decnet topology deploy | teardown`: make Docker match a stored topology, or undo it."""

from __future__ import annotations

import sys

import typer

from decnet_lib.cli.database import open_engine
from decnet_lib.cli.output import emit_json, fail, note
from decnet_lib.master import lifecycle

JSON_OPTION = typer.Option(False, "--json", help="Print one JSON document.")


def _progress(done: int, total: int, message: str) -> None:
    """Progress on stderr: a line every 10% (and for the last step) of long deploys."""
    step = max(total // 10, 1)
    if done == total or done % step == 0:
        sys.stderr.write(f"[{done}/{total}] {message}\n")


def deploy(
    name: str = typer.Argument(..., help="Topology name."),
    agent: str | None = typer.Option(
        None, "--agent", help="Agent URL (https://host:8765); default: this machine's Docker."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan; change nothing."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Deploy (or re-apply) a topology; exits non-zero unless it ends active."""
    engine = open_engine()
    try:
        if dry_run:
            plan = lifecycle.plan_deploy(engine, name, agent)
            if as_json:
                emit_json(plan)
            else:
                typer.echo(plan["text"])
            return
        result = lifecycle.deploy(engine, name, agent, progress=None if as_json else _progress)
    finally:
        engine.dispose()
    _report(result, as_json, ("active",), "DEPLOY_FAILED")


def teardown(name: str = typer.Argument(..., help="Topology name."),
             as_json: bool = JSON_OPTION) -> None:
    """Remove every container and network of a topology (found by label)."""
    engine = open_engine()
    try:
        result = lifecycle.teardown(engine, name)
    finally:
        engine.dispose()
    _report(result, as_json, ("torn_down", "pending"), "TEARDOWN_FAILED")


def _report(result: lifecycle.LifecycleResult, as_json: bool, good: tuple[str, ...],
            code: str) -> None:
    """Print the outcome (JSON or one line); exit non-zero unless the status is `good`."""
    if as_json:
        emit_json(result.to_dict())
    else:
        note(f"{result.name}: {result.status} ({result.message})")
    if result.status not in good:
        fail(f"topology {result.name} is {result.status}: {result.message}", code=code)


def register(group: typer.Typer) -> None:
    """Add the lifecycle commands to the `topology` group."""
    group.command("deploy")(deploy)
    group.command("teardown")(teardown)
