"""`decnet reconcile --once | --watch` (master-only): apply queued mutations."""

from __future__ import annotations

import signal
import threading

import typer

from decnet_lib.cli.context import publishing_settings
from decnet_lib.cli.gating import add_master_command
from decnet_lib.cli.output import emit_json, fail, note


def reconcile(
    ctx: typer.Context,
    once: bool = typer.Option(False, "--once", help="One round, then exit."),
    watch: bool = typer.Option(False, "--watch", help="Keep reconciling until stopped."),
    interval: float = typer.Option(2.0, help="Seconds between guard checks with --watch."),
    drift_interval: float = typer.Option(
        30.0, help="Seconds between comparisons of live topologies with their targets."),
    as_json: bool = typer.Option(False, "--json", help="With --once: print the outcomes."),
) -> None:
    """Drain the pending mutations of every live topology."""
    if once == watch:
        fail("choose exactly one of --once and --watch", code="BAD_PARAMETER", exit_code=2)
    from decnet_lib.master import reconcile as use_case
    from decnet_lib.master.database import engine_scope
    from decnet_lib.master.targets import targets_for

    settings = publishing_settings(ctx)
    targets = targets_for(settings)
    with engine_scope(settings, sqlite_immediate=True) as engine:
        if once:
            result = use_case.reconcile_once(engine, targets)
            for name in result.recovered:
                note(f"{name}: its deploy died (lease expired): recorded failed")
            for drift in result.drifts:
                if drift.before != drift.after:
                    note(f"{drift.name}: {drift.before} -> {drift.after} ({drift.reason})")
            outcomes = result.outcomes
            if as_json:
                emit_json(outcomes)
            else:
                note(f"applied {sum(o['state'] == 'applied' for o in outcomes)}, "
                     f"failed {sum(o['state'] == 'failed' for o in outcomes)}")
            return
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        note(f"reconciler watching (guard every {interval}s, woken by the bus)")
        use_case.watch(engine, settings, interval, stop, targets,
                       drift_interval=drift_interval)


def register(app: typer.Typer) -> None:
    """Add `reconcile` (master-only)."""
    add_master_command(app, "reconcile", reconcile)
