"""Mutation queue throughput (1, 4, 8 reconciler processes) and the guard query at 1M rows.

usage: python bench/bench_mutations.py [--engines sqlite,mariadb] [--mutations 2000]
       [--topologies 32] [--guard-rows 1000000]
MariaDB needs DECNET_TEST_MARIADB_URL (a server URL; a scratch database is created/dropped).

Per engine it prints:
- claims/s: claim_next_mutation alone, each mutation heading its own topology's queue;
- claim+finish/s: claim then mark applied with no op (the queue's own throughput; a
  topology's mutations apply one at a time, so parallelism is across topologies);
- applies/s: full reconcile (claim, load, op, invariants, save, finish);
- baseline: single-row primary-key UPDATEs per second from one process (the engine's raw
  write rate measured in the same run), and the ratio to it;
- the guard query (has_pending_topology_mutation) with `--guard-rows` rows, against the
  same query forced off the index.
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

from sqlalchemy import Engine, create_engine, insert, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from decnet_lib.db import (
    Mutation,
    Topology,
    create_topology,
    init_db,
    make_engine,
    new_session,
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


def connect_then_wait(url: str, gate: tuple) -> Engine:  # type: ignore[type-arg]
    """Connect (one round trip), say ready, then wait for the common start signal."""
    ready, start = gate
    engine = make_engine(url, sqlite_immediate=True)
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    ready.release()
    start.wait()
    return engine


def _claim_loop(url: str, gate: tuple, finish: bool) -> None:  # type: ignore[type-arg]
    engine = connect_then_wait(url, gate)
    with new_session(engine) as session:
        while heads := heads_with_work(session, sample=ROUND_SAMPLE):
            session.rollback()
            for head in heads:
                claim = claim_head(session, head)
                while claim is not None and finish:
                    finish_mutation(session, claim, "applied")
                    session.commit()
                    claim = claim_next_mutation(session, head.topology_id)
        session.rollback()
    engine.dispose()


def claim_worker(url: str, gate: tuple) -> None:  # type: ignore[type-arg]
    """Claims only: every mutation heads its own topology's queue."""
    _claim_loop(url, gate, finish=False)


def claim_finish_worker(url: str, gate: tuple) -> None:  # type: ignore[type-arg]
    """Claim then mark applied (no op): the queue's own throughput."""
    _claim_loop(url, gate, finish=True)


def apply_worker(url: str, gate: tuple) -> None:  # type: ignore[type-arg]
    engine = connect_then_wait(url, gate)
    while pending_guard(engine):
        reconcile_topologies(engine)
    engine.dispose()


def run(url: str, worker, processes: int, mutations: int) -> float:
    ctx = mp.get_context("spawn")
    ready, start = ctx.Semaphore(0), ctx.Event()
    procs = [ctx.Process(target=worker, args=(url, (ready, start))) for _ in range(processes)]
    for proc in procs:
        proc.start()
    for _ in procs:  # every process has imported and connected
        ready.acquire()
    began = time.perf_counter()
    start.set()
    for proc in procs:
        proc.join()
    elapsed = time.perf_counter() - began
    engine = make_engine(url)
    with new_session(engine) as session:
        left = session.scalar(select(Mutation.id).where(Mutation.state == "pending").limit(1))
    engine.dispose()
    assert left is None, "some mutations were not claimed"
    return mutations / elapsed


def baseline_updates(url: str, count: int = 2000) -> float:
    engine = make_engine(url)
    with new_session(engine) as session:
        ids = list(session.scalars(select(Mutation.id).limit(count)))
        session.rollback()
        began = time.perf_counter()
        for mutation_id in ids:
            session.execute(update(Mutation).where(Mutation.id == mutation_id)
                            .values(attempts=Mutation.attempts + 1))
            session.commit()
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="sqlite,mariadb")
    parser.add_argument("--mutations", type=int, default=2000)
    parser.add_argument("--topologies", type=int, default=32)
    parser.add_argument("--processes", default="1,4,8")
    parser.add_argument("--guard-rows", type=int, default=1_000_000)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory() as tmp:
        for engine_name in args.engines.split(","):
            if engine_name == "mariadb" and not os.environ.get("DECNET_TEST_MARIADB_URL"):
                print("mariadb: skipped (DECNET_TEST_MARIADB_URL not set)")
                continue
            print(f"\n== {engine_name}: {args.mutations} mutations over "
                  f"{args.topologies} topologies ==")
            print(f"{'processes':>9} {'claims/s':>10} {'claim+finish/s':>15} {'applies/s':>10}")
            baseline = None
            modes = ((prepare_heads, claim_worker), (prepare, claim_finish_worker),
                     (prepare, apply_worker))
            for processes in (int(p) for p in args.processes.split(",")):
                rates = []
                for prepare_db, worker in modes:
                    url, drop = scratch_url(engine_name, Path(tmp))
                    try:
                        prepare_db(url, args.topologies, args.mutations)
                        rates.append(run(url, worker, processes, args.mutations))
                        if baseline is None:
                            baseline = baseline_updates(url)
                    finally:
                        drop()
                print(f"{processes:>9} {rates[0]:>10.0f} {rates[1]:>15.0f} {rates[2]:>10.0f}")
            print(f"baseline: {baseline:.0f} single-row PK UPDATE+COMMIT/s (1 process)")
            url, drop = scratch_url(engine_name, Path(tmp))
            try:
                prepare(url, 1, 0)
                with_index, without = guard_times(url, args.guard_rows)
            finally:
                drop()
            print(f"guard at {args.guard_rows} rows: {with_index * 1e3:.3f} ms with the index, "
                  f"{without * 1e3:.3f} ms forced off it ({without / with_index:.0f}x)")


if __name__ == "__main__":
    main()
