"""Mutation queue throughput (1, 4, 8 reconciler processes) and the guard query at 1M rows.

usage: python bench/bench_mutations.py [--engines sqlite,mariadb] [--mutations 2000]
       [--topologies 32] [--guard-rows 1000000]
MariaDB needs DECNET_TEST_MARIADB_URL (a server URL; a scratch database is created/dropped).

Per engine it prints:
- claims/s: claim_head alone (one autocommitted conditional UPDATE), each mutation heading
  its own topology's queue, and its ratio to the baseline;
- claim+finish/s: claim then mark applied with no op (the queue's own throughput; a
  topology's mutations apply one at a time, so parallelism is across topologies);
- applies/s: full reconcile (claim, load, op, invariants, save, finish);
- baseline: single-row primary-key UPDATEs per second, each committing by itself, from one
  process through the bare driver (the engine's own write rate, measured in the same run);
- the guard query (has_pending_topology_mutation) with `--guard-rows` rows, against the
  same query forced off the index.
Targets (exit status 1 when one is missed): >= 2,000 claims/s on MariaDB with 4 processes;
the guard under 1 ms at 1,000,000 rows on both engines.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import Engine, create_engine, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from decnet_lib.db import (
    Mutation,
    Topology,
    autocommit_connection,
    create_topology,
    init_db,
    make_engine,
    new_session,
    pinned_session,
)
from decnet_lib.db.status import transition
from decnet_lib.mutations.queue import (
    claim_head,
    claim_next_mutation,
    finish_mutation,
    has_pending_topology_mutation,
    heads_with_work,
)
from decnet_lib.mutations.reconciler import ROUND_SAMPLE, pending_guard, reconcile_topologies
from decnet_lib.topology.loader import decode_document
from decnet_lib.topology.resolve import resolve
from decnet_lib.validation.validate import validate_data


def maze(index: int) -> str:
    return (
        f"name: bench{index}\nlans:\n"
        f"  - {{name: dmz, subnet: 10.{200 + index // 100}.{index % 100 * 2}.0/24, dmz: true}}\n"
        f"  - {{name: inner, subnet: 10.{200 + index // 100}.{index % 100 * 2 + 1}.0/24}}\n"
        "deckies:\n  - {name: gw, lans: {dmz: null, inner: null}, forwards_l3: true}\n"
    )


def prepare(url: str, topologies: int, mutations: int) -> None:
    engine = make_engine(url)
    init_db(engine)
    with new_session(engine) as session:
        ids = []
        for index in range(topologies):
            doc, _ = validate_data(decode_document(maze(index).encode()))
            row = create_topology(session, resolve(doc))
            transition(session, row, "deploying", "bench")
            transition(session, row, "active", "bench")
            ids.append(row.id)
        rows = [
            {"topology_id": ids[n % topologies], "op": "add_decky", "state": "pending",
             "payload": {"name": f"d{n}", "lan": "inner"}}
            for n in range(mutations)
        ]
        if rows:
            session.execute(insert(Mutation), rows)
        session.commit()
    engine.dispose()


def prepare_heads(url: str, topologies: int, mutations: int) -> None:
    """One pending mutation at the head of each of `mutations` live topologies (bare rows:
    claiming reads only the queue and the topology status)."""
    engine = make_engine(url)
    init_db(engine)
    with new_session(engine) as session:
        ids = [uuid.uuid4().hex for _ in range(mutations)]
        session.execute(insert(Topology), [
            {"id": topology_id, "name": f"t{n}", "status": "active", "hash": ""}
            for n, topology_id in enumerate(ids)
        ])
        session.execute(insert(Mutation), [
            {"topology_id": topology_id, "op": "remove_decky", "state": "pending",
             "payload": {"decky": "x"}}
            for topology_id in ids
        ])
        session.commit()
    engine.dispose()


class Gate(NamedTuple):
    """Start every worker at once; each reports when its last claim is done."""

    ready: Any  # a semaphore: released once per connected worker
    start: Any  # an event: set when all are ready
    finished: Any  # a queue of perf_counter() readings (CLOCK_MONOTONIC: one clock for all)


def connect_then_wait(url: str, gate: Gate) -> Engine:
    """Connect (one round trip), say ready, then wait for the common start signal."""
    engine = make_engine(url, sqlite_immediate=True)
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    gate.ready.release()
    gate.start.wait()
    return engine


def work_done(gate: Gate, engine: Engine) -> None:
    """Report the end of this worker's work (interpreter shutdown is not timed)."""
    gate.finished.put(time.perf_counter())
    engine.dispose()


def _claim_loop(url: str, gate: Gate, finish: bool) -> None:
    engine = connect_then_wait(url, gate)
    with autocommit_connection(engine) as claims, pinned_session(engine) as session:
        while heads := heads_with_work(claims, sample=ROUND_SAMPLE):
            for head in heads:
                claim = claim_head(claims, head)
                while claim is not None and finish:
                    finish_mutation(session, claim, "applied")
                    session.commit()
                    claim = claim_next_mutation(claims, head.topology_id)
    work_done(gate, engine)


def claim_worker(url: str, gate: Gate) -> None:
    """Claims only: every mutation heads its own topology's queue."""
    _claim_loop(url, gate, finish=False)


def claim_finish_worker(url: str, gate: Gate) -> None:
    """Claim then mark applied (no op): the queue's own throughput."""
    _claim_loop(url, gate, finish=True)


def apply_worker(url: str, gate: Gate) -> None:
    engine = connect_then_wait(url, gate)
    while pending_guard(engine):
        reconcile_topologies(engine)
    work_done(gate, engine)


def run(url: str, worker, processes: int, mutations: int) -> float:
    ctx = mp.get_context("spawn")
    gate = Gate(ctx.Semaphore(0), ctx.Event(), ctx.Queue())
    procs = [ctx.Process(target=worker, args=(url, gate)) for _ in range(processes)]
    for proc in procs:
        proc.start()
    for _ in procs:  # every process has imported and connected
        gate.ready.acquire()
    began = time.perf_counter()
    gate.start.set()
    ends = [gate.finished.get(timeout=600) for _ in procs]
    for proc in procs:
        proc.join()
    elapsed = max(ends) - began
    engine = make_engine(url)
    with new_session(engine) as session:
        left = session.scalar(select(Mutation.id).where(Mutation.state == "pending").limit(1))
    engine.dispose()
    assert left is None, "some mutations were not claimed"
    return mutations / elapsed


def baseline_updates(url: str, count: int = 2000) -> float:
    """The engine's own rate for single-row primary-key UPDATEs, each committing by itself
    (the shape of a claim), from one process through the same driver, no ORM."""
    engine = make_engine(url)
    with autocommit_connection(engine) as connection:
        ids = list(connection.scalars(select(Mutation.id).limit(count)))
        began = time.perf_counter()
        for mutation_id in ids:
            connection.exec_driver_sql(
                f"UPDATE mutations SET attempts = attempts + 1 WHERE id = {int(mutation_id)}")
        elapsed = time.perf_counter() - began
    engine.dispose()
    return len(ids) / elapsed


def guard_times(url: str, rows: int) -> tuple[float, float]:
    """Median seconds of the guard with the index and forced off it, at `rows` rows."""
    engine = make_engine(url)
    with new_session(engine) as session:
        topology_id = session.scalar(text("SELECT id FROM topologies LIMIT 1"))
        session.execute(text("DELETE FROM mutations"))
        batch = [{"topology_id": topology_id, "op": "remove_decky", "state": "applied",
                  "payload": {"decky": "x"}} for _ in range(10_000)]
        for _ in range(rows // len(batch)):
            session.execute(insert(Mutation), batch)
        session.commit()
        sqlite = engine.dialect.name == "sqlite"
        session.execute(text("ANALYZE" if sqlite else "ANALYZE TABLE mutations"))
        session.commit()
        no_index = text(
            "SELECT 1 FROM mutations NOT INDEXED WHERE state = 'pending' LIMIT 1" if sqlite
            else "SELECT 1 FROM mutations IGNORE INDEX (ix_mutations_state_topology) "
                 "WHERE state = 'pending' LIMIT 1"
        )

        def median(call) -> float:
            samples = []
            for _ in range(200):
                began = time.perf_counter()
                call()
                samples.append(time.perf_counter() - began)
                session.rollback()
            return statistics.median(samples)

        with_index = median(lambda: has_pending_topology_mutation(session))
        without = median(lambda: session.execute(no_index).all())
    engine.dispose()
    return with_index, without


def scratch_url(engine_name: str, tmp: Path) -> tuple[str, callable]:  # type: ignore[valid-type]
    if engine_name == "sqlite":
        path = tmp / f"bench-{uuid.uuid4().hex[:8]}.db"
        return f"sqlite:///{path}", lambda: None
    server_url = make_url(os.environ["DECNET_TEST_MARIADB_URL"])
    name = f"decnet_bench_{uuid.uuid4().hex[:8]}"
    server = create_engine(server_url, poolclass=NullPool)
    with server.begin() as connection:
        connection.execute(text(f"CREATE DATABASE `{name}` COLLATE utf8mb4_bin"))

    def drop() -> None:
        with server.begin() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        server.dispose()

    return server_url.set(database=name).render_as_string(hide_password=False), drop


CLAIMS_TARGET = 2000  # claims/s on MariaDB with 4 processes
GUARD_TARGET = 1e-3  # seconds at 1,000,000 rows


def bench_engine(engine_name: str, args: argparse.Namespace, tmp: Path) -> list[str]:
    """Print one engine's table and guard figures; return the targets it missed."""
    print(f"\n== {engine_name}: {args.mutations} mutations over {args.topologies} topologies ==")
    url, drop = scratch_url(engine_name, tmp)
    try:
        prepare_heads(url, args.topologies, args.mutations)
        baseline = baseline_updates(url)
    finally:
        drop()
    print(f"baseline: {baseline:.0f} single-row PK UPDATEs/s, autocommit (1 process)")
    print(f"{'processes':>9} {'claims/s':>10} {'÷ baseline':>10} {'claim+finish/s':>15} "
          f"{'applies/s':>10}")
    missed = []
    modes = ((prepare_heads, claim_worker), (prepare, claim_finish_worker),
             (prepare, apply_worker))
    for processes in (int(p) for p in args.processes.split(",")):
        rates = []
        for prepare_db, worker in modes:
            url, drop = scratch_url(engine_name, tmp)
            try:
                prepare_db(url, args.topologies, args.mutations)
                rates.append(run(url, worker, processes, args.mutations))
            finally:
                drop()
        print(f"{processes:>9} {rates[0]:>10.0f} {rates[0] / baseline:>9.2f}x "
              f"{rates[1]:>15.0f} {rates[2]:>10.0f}")
        if engine_name == "mariadb" and processes == 4 and rates[0] < CLAIMS_TARGET:
            missed.append(f"mariadb claims/s with 4 processes < {CLAIMS_TARGET}")
    url, drop = scratch_url(engine_name, tmp)
    try:
        prepare(url, 1, 0)
        with_index, without = guard_times(url, args.guard_rows)
    finally:
        drop()
    print(f"guard at {args.guard_rows} rows: {with_index * 1e3:.3f} ms with the index, "
          f"{without * 1e3:.3f} ms forced off it ({without / with_index:.0f}x)")
    if args.guard_rows >= 1_000_000 and with_index >= GUARD_TARGET:
        missed.append(f"{engine_name} guard >= 1 ms")
    return missed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="sqlite,mariadb")
    parser.add_argument("--mutations", type=int, default=2000)
    parser.add_argument("--topologies", type=int, default=32)
    parser.add_argument("--processes", default="1,4,8")
    parser.add_argument("--guard-rows", type=int, default=1_000_000)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    missed: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for engine_name in args.engines.split(","):
            if engine_name == "mariadb" and not os.environ.get("DECNET_TEST_MARIADB_URL"):
                print("mariadb: skipped (DECNET_TEST_MARIADB_URL not set)")
                continue
            missed += bench_engine(engine_name, args, Path(tmp))
    print("\ntargets: " + ("PASS" if not missed else "FAIL: " + "; ".join(missed)))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
