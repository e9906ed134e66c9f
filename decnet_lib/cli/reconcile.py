"""`decnet reconcile --once | --watch` (master-only): apply queued mutations."""

from __future__ import annotations

import signal
import threading

import typer

from decnet_lib.cli.database import open_engine
from decnet_lib.cli.gating import add_master_command
from decnet_lib.cli.output import emit_json, fail, note
from decnet_lib.master.deploy_lease import recover_all
from decnet_lib.master.drift import check_drift
from decnet_lib.master.lifecycle import push_hook
from decnet_lib.master.wiring import WakeOnEnqueue
from decnet_lib.mutations.reconciler import reconcile_topologies, run_watch_loop


def reconcile(
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
    engine = open_engine(sqlite_immediate=True)
    try:
        if once:
            reports = reconcile_topologies(engine, push_hook())
            for name in recover_all(engine):
                note(f"{name}: its deploy died (lease expired): recorded failed")
            for drift in check_drift(engine):
                if drift.before != drift.after:
                    note(f"{drift.name}: {drift.before} -> {drift.after} ({drift.reason})")
            outcomes = [
                {"topology_id": r.topology_id, "mutation_id": o.mutation_id,
                 "state": o.state, "error": o.error}
                for r in reports for o in r.outcomes
            ]
            if as_json:
                emit_json(outcomes)
            else:
                note(f"applied {sum(o['state'] == 'applied' for o in outcomes)}, "
                     f"failed {sum(o['state'] == 'failed' for o in outcomes)}")
            return
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        wake = threading.Event()
        waker = WakeOnEnqueue(wake).start()
        note(f"reconciler watching (guard every {interval}s, woken by the bus)")
        try:
            run_watch_loop(engine, interval=interval, push=push_hook(), wake=wake, stop=stop,
                           drift=lambda: (recover_all(engine), check_drift(engine)),
                           drift_interval=drift_interval)
        finally:
            waker.stop()
    finally:
        engine.dispose()


def register(app: typer.Typer) -> None:
    """Add `reconcile` (master-only)."""
    add_master_command(app, "reconcile", reconcile)
