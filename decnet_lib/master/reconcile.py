"""Apply queued mutations: one round over every live topology, or a watch loop woken by
the bus (`decnet reconcile --once | --watch`). Each round also settles deploys whose lease
expired and compares live topologies with what their targets hold (drift)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from decnet_lib.master.deploy_lease import recover_all
from decnet_lib.master.drift import Drift, check_drift
from decnet_lib.master.lifecycle import push_hook
from decnet_lib.master.targets import TargetFactory, target_for
from decnet_lib.master.wiring import WakeOnEnqueue
from decnet_lib.mutations.reconciler import reconcile_topologies, run_watch_loop

if TYPE_CHECKING:
    from decnet_lib.settings import Settings


@dataclass(frozen=True)
class Round:
    """What one reconcile round did: mutation outcomes, deploys recorded failed because
    their lease expired, and every live topology compared with its target."""

    outcomes: list[dict[str, Any]] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)
    drifts: list[Drift] = field(default_factory=list)


def reconcile_once(engine: Engine, targets: TargetFactory = target_for) -> Round:
    """Drain every live topology's queue once, then recover expired deploys and check
    drift."""
    reports = reconcile_topologies(engine, push_hook(targets))
    recovered = recover_all(engine)
    drifts = check_drift(engine, targets)
    outcomes = [
        {"topology_id": r.topology_id, "mutation_id": o.mutation_id, "state": o.state,
         "error": o.error}
        for r in reports for o in r.outcomes
    ]
    return Round(outcomes, list(recovered), drifts)


def watch(engine: Engine, settings: Settings, interval: float, stop: threading.Event,
          targets: TargetFactory = target_for, drift_interval: float = 30.0) -> None:
    """Reconcile until `stop` is set: a cheap guard query every `interval` seconds, at once
    when the bus says a mutation was enqueued, and a drift check every `drift_interval`."""
    wake = threading.Event()
    waker = WakeOnEnqueue(wake, settings=settings).start()
    try:
        run_watch_loop(engine, interval=interval, push=push_hook(targets), wake=wake,
                       stop=stop,
                       drift=lambda: (recover_all(engine), check_drift(engine, targets)),
                       drift_interval=drift_interval)
    finally:
        waker.stop()
