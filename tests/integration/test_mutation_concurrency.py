"""Exactly-once under real concurrency: separate OS processes racing over one queue."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import resolve_yaml, store_live
from sqlalchemy import Engine, func, insert, select

from decnet_lib.db import Mutation, load_resolved, new_session, require_topology
from decnet_lib.mutations.reconciler import reconcile_topologies

WORKER = Path(__file__).resolve().parents[1] / "support" / "reconcile_worker.py"
TOPOLOGIES = 40
PER_TOPOLOGY = 50  # 2,000 mutations in all
PROCESSES = 4


def small_maze(index: int) -> str:
    return f"""
name: race{index}
lans:
  - {{name: dmz, subnet: 10.{100 + index // 100}.{index % 100 * 2}.0/24, dmz: true}}
  - {{name: inner, subnet: 10.{100 + index // 100}.{index % 100 * 2 + 1}.0/24}}
deckies:
  - {{name: gw, lans: {{dmz: null, inner: null}}, forwards_l3: true}}
"""


def queue_many(engine: Engine) -> list[int]:
    """Store the mazes and bulk-queue PER_TOPOLOGY add_decky ops for each."""
    with new_session(engine) as session:
        ids = [store_live(session, resolve_yaml(small_maze(i))).id for i in range(TOPOLOGIES)]
        rows = [
            {"topology_id": topology_id, "op": "add_decky", "state": "pending",
             "payload": {"name": f"d{n}", "lan": "inner", "services": ["ssh"]}}
            for n in range(PER_TOPOLOGY) for topology_id in ids
        ]
        session.execute(insert(Mutation), rows)
        session.commit()
        return list(session.scalars(select(Mutation.id).order_by(Mutation.id)))


def run_workers(db_url: str, tmp_path: Path, count: int) -> list[Path]:
    outputs = [tmp_path / f"worker{n}.log" for n in range(count)]
    env = {**os.environ, "PYTHONPATH": str(WORKER.parents[2])}
    procs = [subprocess.Popen([sys.executable, str(WORKER), db_url, str(out)], env=env)
             for out in outputs]
    try:
        for proc in procs:
            assert proc.wait(timeout=600) == 0
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    return outputs


@pytest.mark.slow
def test_racing_processes_apply_each_mutation_exactly_once(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    all_ids = queue_many(engine)
    assert len(all_ids) == TOPOLOGIES * PER_TOPOLOGY
    outputs = run_workers(db_url, tmp_path, PROCESSES)
    applied = collections.Counter()
    busy_workers = 0
    for out in outputs:
        lines = out.read_text().split()
        pairs = list(zip(lines[::2], lines[1::2], strict=True))
        busy_workers += bool(pairs)
        for mutation_id, state in pairs:
            assert state == "applied", (mutation_id, state)
            applied[int(mutation_id)] += 1
    assert set(applied) == set(all_ids)  # none lost
    assert max(applied.values()) == 1  # none applied twice
    assert busy_workers > 1  # they really raced
    with new_session(engine) as session:
        states = dict(session.execute(
            select(Mutation.state, func.count()).group_by(Mutation.state)).all())
        assert states == {"applied": len(all_ids)}
        for index in range(TOPOLOGIES):
            topology = load_resolved(session, require_topology(session, f"race{index}"))
            assert len(topology.deckies) == PER_TOPOLOGY + 1


def test_sigkilled_claim_is_recovered_after_the_lease(
    db_url: str, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with new_session(engine) as session:
        row = store_live(session, resolve_yaml(small_maze(0)))
        session.add(Mutation(topology_id=row.id, op="add_decky",
                             payload={"name": "late", "lan": "inner"}))
        session.commit()
    env = {**os.environ, "PYTHONPATH": str(WORKER.parents[2]),
           "DECNET_MUTATION_LEASE_SECONDS": "1"}
    proc = subprocess.run([sys.executable, str(WORKER), db_url, str(tmp_path / "x"),
                           "--die-after-claim"], env=env, timeout=60, check=False)
    assert proc.returncode == -signal.SIGKILL
    with new_session(engine) as session:
        stuck = session.scalars(select(Mutation)).one()
        assert stuck.state == "applying" and stuck.attempts == 1
    assert [o for r in reconcile_topologies(engine) for o in r.outcomes] == []  # leased
    time.sleep(1.2)
    outcomes = [o for r in reconcile_topologies(engine) for o in r.outcomes]
    assert [o.state for o in outcomes] == ["applied"]
    with new_session(engine) as session:
        done = session.scalars(select(Mutation)).one()
        assert done.state == "applied" and done.attempts == 2
        topology = load_resolved(session, require_topology(session, "race0"))
        assert [d.name for d in topology.deckies].count("late") == 1
