"""`decnet topology deploy | teardown`: make Docker match a stored topology, or undo it."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import typer

from decnet_lib.cli.context import publishing_settings
from decnet_lib.cli.output import JSON_OPTION, emit_json, fail, note

if TYPE_CHECKING:
    from decnet_lib.master.lifecycle import LifecycleResult


def _progress(done: int, total: int, message: str) -> None:
    """Progress on stderr: a line every 10% (and for the last step) of long deploys."""
    step = max(total // 10, 1)
    if done == total or done % step == 0:
        sys.stderr.write(f"[{done}/{total}] {message}\n")


def deploy(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Topology name."),
    agent: str | None = typer.Option(
        None, "--agent", help="Agent URL (https://host:8765); default: this machine's Docker."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan; change nothing."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Deploy (or re-apply) a topology; exits non-zero unless it ends active."""
    from decnet_lib.master import lifecycle
    from decnet_lib.master.database import engine_scope
    from decnet_lib.master.targets import targets_for

    settings = publishing_settings(ctx)
    targets = targets_for(settings)
    with engine_scope(settings) as engine:
        if dry_run:
            plan = lifecycle.plan_deploy(engine, name, agent, targets)
            if as_json:
                emit_json(plan)
            else:
                typer.echo(plan["text"])
            return
        result = lifecycle.deploy(engine, name, agent, progress=None if as_json else _progress,
                                  targets=targets)
    _report(result, as_json, frozenset({"active"}), "DEPLOY_FAILED")


def teardown(ctx: typer.Context, name: str = typer.Argument(..., help="Topology name."),
             as_json: bool = JSON_OPTION) -> None:
    """Remove every container and network of a topology (found by label)."""
    from decnet_lib.master import lifecycle
    from decnet_lib.master.database import engine_scope
    from decnet_lib.master.status import UNDEPLOYED_STATUSES
    from decnet_lib.master.targets import targets_for

    settings = publishing_settings(ctx)
    with engine_scope(settings) as engine:
        result = lifecycle.teardown(engine, name, targets_for(settings))
    _report(result, as_json, UNDEPLOYED_STATUSES, "TEARDOWN_FAILED")


def _report(result: LifecycleResult, as_json: bool, good: frozenset[str], code: str) -> None:
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
