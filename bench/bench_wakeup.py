"""Enqueue -> applying latency: the watch loop woken by the bus vs polling alone.

usage: python bench/bench_wakeup.py [--mutations 40] [--interval 1.0]
The latency of each mutation is claimed_at - created_at as stored in the database
(SQLite in a temporary directory). The baseline, measured in the same run, is the same
loop without the bus: it only notices work at its next poll.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from sqlalchemy import select

from decnet_lib.db import Mutation, create_topology, init_db, make_engine, new_session
from decnet_lib.db.status import transition
from decnet_lib.master.wiring import WakeOnEnqueue, wire_events
from decnet_lib.mutations.queue import enqueue_mutation
from decnet_lib.mutations.reconciler import run_watch_loop
from decnet_lib.topology.loader import decode_document
from decnet_lib.topology.resolve import resolve
from decnet_lib.validation.validate import validate_data

MAZE = b"""
name: wake
lans: [{name: dmz, subnet: 10.250.0.0/24, dmz: true}, {name: inner, subnet: 10.250.1.0/24}]
deckies: [{name: gw, lans: {dmz: null, inner: null}}]
"""


def measure(db: Path, mutations: int, interval: float, use_bus: bool) -> list[float]:
    engine = make_engine(f"sqlite:///{db}", sqlite_immediate=True)
    init_db(engine)
    with new_session(engine) as session:
        doc, _ = validate_data(decode_document(MAZE))
        row = create_topology(session, resolve(doc))
        transition(session, row, "deploying", "bench")
        transition(session, row, "active", "bench")
        session.commit()
    wake, stop = threading.Event(), threading.Event()
    waker = WakeOnEnqueue(wake).start() if use_bus else None
    unwire = wire_events() if use_bus else (lambda: None)
    loop = threading.Thread(target=run_watch_loop, args=(engine,),
                            kwargs={"interval": interval, "wake": wake, "stop": stop})
    loop.start()
    rng = random.Random(1)
    try:
        for index in range(mutations):
            time.sleep(rng.uniform(0.05, interval))
            with new_session(engine) as session:
                enqueue_mutation(session, "wake", "add_decky",
                                 {"name": f"d{index}", "lan": "inner"})
                session.commit()
        time.sleep(interval + 0.5)
    finally:
        stop.set()
        wake.set()
        loop.join()
        unwire()
        if waker:
            waker.stop()
    with new_session(engine) as session:
        rows = session.execute(select(Mutation.created_at, Mutation.claimed_at)).all()
    engine.dispose()
    return [(claimed - created).total_seconds() for created, claimed in rows if claimed]


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (f"p50 {statistics.median(ordered) * 1e3:8.1f} ms   p99 {p99 * 1e3:8.1f} ms   "
            f"n={len(ordered)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutations", type=int, default=40)
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        socket_path = Path(tmp) / "bus.sock"
        server = subprocess.Popen([sys.executable, "-m", "decnet_lib.cli", "bus", "serve",
                                   "--socket", str(socket_path)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while not socket_path.exists():
                time.sleep(0.02)
            os.environ["DECNET_BUS_SOCKET"] = str(socket_path)
            with_bus = measure(Path(tmp) / "a.db", args.mutations, args.interval, True)
            polling = measure(Path(tmp) / "b.db", args.mutations, args.interval, False)
        finally:
            server.terminate()
            server.wait()
    print(f"machine: {os.cpu_count()} cores; poll interval {args.interval}s")
    print(f"with the bus:    {summary(with_bus)}")
    print(f"polling only:    {summary(polling)}")
    ratio = statistics.median(polling) / statistics.median(with_bus)
    verdict = "PASS" if statistics.median(with_bus) < 0.1 else "FAIL"
    print(f"bus wake-up is {ratio:.0f}x faster at the median; target p50 < 100 ms: {verdict}")


if __name__ == "__main__":
    main()
