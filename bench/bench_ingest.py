"""Benchmark: attacker events from a container's stdout to the master, and onto its bus.

Run: .venv/bin/python bench/bench_ingest.py [--events 20000] [--paced 1000 --rate 200]
     (MariaDB: DECNET_TEST_MARIADB_URL, e.g. mysql+pymysql://root@localhost/?unix_socket=...)

Needs Docker and /bin/busybox. Everything is real: a labelled busybox container of a live
local topology writes emulator lines on its stdout, the local target's collector (the agent's
pipeline, run by the ingester) journals them and the ingester stores them.

* throughput, on SQLite and MariaDB: the container prints --events lines at once; events/s
  from starting it to the last event committed by `Ingester.once` (collect + store + ingest
  log). Baseline: a raw executemany INSERT of the same rows into the same table (pages of
  1,000), so the ratio says what the pipeline costs over the database's own insert rate.
* latency, with `decnet ingest --watch` (a process of its own, on SQLite) and our bus
  (`python -m decnet_lib.bus bus serve`): --paced lines are written to a `cat` container's
  stdin at --rate lines/s, each carrying its write time; p50/p99/max until the subscriber
  (a real `BusClient` on `attack.<topology_id>.*.*`) has the event. Baseline: the same number
  of messages published on that bus and received by the same kind of subscriber.

Targets: >= 5,000 events/s into MariaDB; p99 < 1 s with the watch loop. Exit status 1 when
one is missed. Every container, database and process made here is removed by name/PID.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import docker
from sqlalchemy import create_engine, func, insert, make_url, select, text
from sqlalchemy.pool import NullPool

from decnet_lib.bus.client import BusClient
from decnet_lib.db import AttackEvent, create_topology, init_db, make_engine, session_scope
from decnet_lib.db.attack_events import event_values
from decnet_lib.deploy import labels as L
from decnet_lib.logs.emulator_line import format_line
from decnet_lib.master.ingest import Ingester, ingest_watch
from decnet_lib.settings import Settings
from decnet_lib.topology.loader import decode_document
from decnet_lib.topology.resolve import resolve
from decnet_lib.validation.validate import validate_data

ROOT = Path(__file__).resolve().parents[1]
IMAGE = "decnet-bench/busybox:latest"
TARGET_EPS = 5000.0
TARGET_P99_S = 1.0
MAZE = """
name: benchmaze
lans:
  - {name: dmz, subnet: 10.254.77.0/24, dmz: true}
deckies:
  - {name: web, services: [http], lans: {dmz: 10.254.77.10}}
"""
# {now}: the run's time (retention would prune an older stamp after each once)
BURST = ("/bin/busybox seq 1 {n} | /bin/busybox awk '{{printf \"DECNET1 ts={now}.%06d "
         "svc=http event=request src=203.0.113.9 sport=%d proto=tcp dport=80 n=%d\\n\", "
         "$1 % 1000000, $1 % 60000 + 1, $1}}'")


def burst_command(events: int) -> list[str]:
    """The container command printing `events` lines stamped with the run's time."""
    return ["/bin/busybox", "sh", "-c", BURST.format(n=events, now=int(time.time()))]


def busybox_image(client: Any) -> str:
    """scratch + the host's static busybox, built once."""
    try:
        client.images.get(IMAGE)
        return IMAGE
    except docker.errors.ImageNotFound:
        pass
    with tempfile.TemporaryDirectory() as ctx:
        (Path(ctx) / "busybox").write_bytes(Path("/bin/busybox").read_bytes())
        os.chmod(Path(ctx) / "busybox", 0o755)
        (Path(ctx) / "Dockerfile").write_text("FROM scratch\nCOPY busybox /bin/busybox\n")
        client.images.build(path=ctx, tag=IMAGE, rm=True, forcerm=True)
    return IMAGE


def live_topology(engine: Any) -> str:
    """A local topology in `active`, as a deploy leaves it; its id."""
    from decnet_lib.db.status import transition

    with session_scope(engine) as session:
        name = f"benchmaze-{uuid.uuid4().hex[:8]}"  # one per measurement, same database
        doc, issues = validate_data(decode_document(MAZE.replace("benchmaze", name).encode()))
        assert doc is not None, issues
        row = create_topology(session, resolve(doc))
        transition(session, row, "deploying", "bench")
        transition(session, row, "active", "bench")
        row.agent = "local"
        return row.id


def run_container(client: Any, topology_id: str, command: list[str], token: str,
                  **kwargs: Any) -> Any:
    labels = {L.MANAGED: "true", L.TOPOLOGY_SERVICE: "true", L.TOPOLOGY_ID: topology_id,
              L.TOPOLOGY_NAME: "benchmaze", L.DECKY: "web", L.SERVICE: "http",
              "decnet.bench": token}
    return client.containers.run(busybox_image(client), command, labels=labels, detach=True,
                                 network_mode="none", **kwargs)


@contextmanager
def mariadb(server: str | None) -> Iterator[str | None]:
    """A fresh MariaDB database on `server` (dropped afterwards), or None without one."""
    if not server:
        yield None
        return
    url = make_url(server)
    name = f"decnet_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, poolclass=NullPool)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 "
                          "COLLATE utf8mb4_bin"))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


def throughput(client: Any, db_url: str, state: Path, events: int, token: str
               ) -> tuple[float, float, float, float]:
    """(end-to-end events/s, of which collecting (stdout -> journal) events/s and storing
    (journal -> database, ingest log) events/s, raw executemany rows/s) on one database."""
    settings = Settings(state_dir=state, db_url=db_url, bus="null")
    engine = make_engine(db_url, sqlite_immediate=True)
    init_db(engine)
    try:
        topology_id = live_topology(engine)
        ingester = Ingester(settings, engine)
        stored = 0
        started = time.perf_counter()
        container = run_container(client, topology_id,
                                  burst_command(events), token)
        try:
            feed, collecting = ingester.local(), 0.0
            collect_once = feed.collect_once

            def timed_collect() -> int:  # the collect stage's share of the time
                nonlocal collecting
                mark = time.perf_counter()
                try:
                    return collect_once()
                finally:
                    collecting += time.perf_counter() - mark

            feed.collect_once = timed_collect  # type: ignore[method-assign]
            while stored < events:
                report = ingester.once()
                assert report.ok, report
                stored += report.stored
            took = time.perf_counter() - started
        finally:
            ingester.close()
            container.remove(force=True)
        # the baseline: the same rows, inserted raw (pages of 1,000, one executemany each)
        entries = [{"topology_id": topology_id, "topology": "benchmaze", "decky": "web",
                    "service": "http", "event": "request", "src_ip": "203.0.113.9",
                    "src_port": 1 + n % 60000, "dst_port": 80, "proto": "tcp", "ts": 1.7e9,
                    "fields": {"n": str(n), "proto": "tcp", "dport": "80"}, "seq": n}
                   for n in range(1, events + 1)]
        rows = [event_values(entry, "raw", "bench", {}) for entry in entries]
        raw_started = time.perf_counter()
        for start in range(0, len(rows), 1000):
            with engine.begin() as conn:
                conn.execute(insert(AttackEvent), rows[start:start + 1000])
        raw = events / (time.perf_counter() - raw_started)
        return events / took, events / collecting, events / (took - collecting), raw
    finally:
        engine.dispose()


def watch_throughput(client: Any, db_url: str, state: Path, events: int, token: str
                     ) -> float:
    """Events/s with the watch loop (collector following and ingester storing at once):
    from starting the container to the last event committed."""
    settings = Settings(state_dir=state, db_url=db_url, bus="null")
    engine = make_engine(db_url, sqlite_immediate=True)
    init_db(engine)
    stop = threading.Event()
    thread = threading.Thread(target=ingest_watch, args=(settings, engine, stop),
                              kwargs={"refresh": 0.2}, daemon=True)
    try:
        topology_id = live_topology(engine)
        thread.start()
        time.sleep(1.0)  # the watch loop is following the (empty) local target
        started = time.perf_counter()
        container = run_container(client, topology_id,
                                  burst_command(events), token)
        try:
            count = (select(func.count()).select_from(AttackEvent)
                     .where(AttackEvent.topology_id == topology_id))
            while True:
                with session_scope(engine) as session:
                    if session.scalar(count) >= events:
                        break
                time.sleep(0.05)
            return events / (time.perf_counter() - started)
        finally:
            container.remove(force=True)
    finally:
        stop.set()
        if thread.ident is not None:
            thread.join(30)
        engine.dispose()


def percentiles(values: list[float]) -> tuple[float, float, float]:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.median(ordered), p99, ordered[-1]


async def bus_baseline(sock: Path, count: int, rate: int) -> list[float]:
    """publish -> receive latencies on the bus itself, paced like the events."""
    sub_client = BusClient(sock, "bench-ingest-sub", sub_queue_size=100_000)
    pub = BusClient(sock, "bench-ingest-pub")
    await sub_client.connect()
    await pub.connect()
    sub = await sub_client.subscribe("bench.ingest.*")
    got: list[float] = []

    async def consume() -> None:
        async for event in sub:
            got.append(time.time() - event.payload["sent"])
            if len(got) >= count:
                return

    task = asyncio.create_task(consume())
    for _ in range(count):
        await pub.publish("bench.ingest.tick", {"sent": time.time()})
        await asyncio.sleep(1 / rate)
    await asyncio.wait_for(task, 30)
    await pub.close()
    await sub_client.close()
    return got


async def watch_latency(client: Any, sock: Path, topology_id: str, count: int, rate: int,
                        token: str) -> list[float]:
    """Lines written to a container's stdout (through `cat`) -> events on the bus."""
    bus = BusClient(sock, "bench-ingest-attacks", sub_queue_size=100_000)
    await bus.connect()
    sub = await bus.subscribe(f"attack.{topology_id}.*.*")
    container = run_container(client, topology_id, ["/bin/busybox", "cat"], token,
                              stdin_open=True)
    stdin = container.attach_socket(params={"stdin": 1, "stream": 1})
    raw = stdin._sock  # the socket under docker's SocketIO
    latencies: dict[int, float] = {}

    async def consume() -> None:
        async for event in sub:
            fields = event.payload.get("fields") or {}
            if "sent" in fields:
                latencies[int(fields["n"])] = time.time() - float(fields["sent"])
            if len(latencies) >= count:
                return

    def write(n: int) -> None:
        line = format_line("http", "request", "203.0.113.9", 1 + n % 60000,
                           {"proto": "tcp", "dport": "80", "n": str(n),
                            "sent": f"{time.time():.6f}"})
        raw.sendall(line.encode() + b"\n")

    try:
        task = asyncio.create_task(consume())
        write(0)  # warm-up: the watch loop attaches to the container first
        while not latencies:
            await asyncio.sleep(0.05)
            if task.done():
                break
        latencies.clear()
        for n in range(1, count + 1):
            write(n)
            await asyncio.sleep(1 / rate)
        await asyncio.wait_for(task, 60)
        return list(latencies.values())
    finally:
        raw.close()
        container.remove(force=True)
        await bus.close()


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()


def wait_socket(path: Path, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_UNIX) as probe:
            try:
                probe.connect(str(path))
                return
            except OSError:
                time.sleep(0.05)
    raise SystemExit(f"the bus did not start at {path}")


def latency(client: Any, tmp: Path, paced: int, rate: int, token: str
            ) -> tuple[list[float], list[float]]:
    """(event latencies with `decnet ingest --watch`, bus publish->receive latencies)."""
    state = tmp / "watch"
    sock = tmp / "bus.sock"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DECNET_")}
    env.update(DECNET_STATE_DIR=str(state), DECNET_BUS="unix", DECNET_BUS_SOCKET=str(sock),
               DECNET_DB_URL=f"sqlite:///{state / 'decnet.db'}")
    settings = Settings(state_dir=state, db_url=env["DECNET_DB_URL"], bus="null")
    engine = make_engine(settings.db_url, sqlite_immediate=True)
    init_db(engine)
    topology_id = live_topology(engine)
    engine.dispose()
    bus = subprocess.Popen([sys.executable, "-m", "decnet_lib.bus", "bus", "serve", "--socket",
                            str(sock), "--health-interval", "0"], cwd=ROOT, env=env,
                           stderr=subprocess.DEVNULL)
    watcher: subprocess.Popen[bytes] | None = None
    try:
        wait_socket(sock)
        baseline = asyncio.run(bus_baseline(sock, paced, rate))
        watcher = subprocess.Popen([sys.executable, "-m", "decnet_lib.cli", "ingest", "--watch"],
                                   cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
        events = asyncio.run(watch_latency(client, sock, topology_id, paced, rate, token))
        return events, baseline
    finally:
        if watcher is not None:
            stop(watcher)
        stop(bus)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--paced", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=200, help="paced lines per second")
    args = parser.parse_args()
    client = docker.from_env(timeout=120)
    token = uuid.uuid4().hex[:12]
    print(f"machine: {platform.machine()}, nproc {os.cpu_count()}, "
          f"Python {platform.python_version()}")
    ok = True
    try:
        with tempfile.TemporaryDirectory(prefix="decnet-bench-ingest-") as name:
            tmp = Path(name)
            server = os.environ.get("DECNET_TEST_MARIADB_URL")
            with mariadb(server) as maria_url:
                urls = {"sqlite": f"sqlite:///{tmp / 'sqlite' / 'decnet.db'}"}
                if maria_url:
                    urls["mariadb"] = maria_url
                print(f"throughput, {args.events} lines at once (container stdout -> database)")
                for kind, url in urls.items():
                    eps, collect, store, raw = throughput(client, url, tmp / kind,
                                                          args.events, token)
                    watched = watch_throughput(client, url, tmp / f"{kind}-watch",
                                               args.events, token)
                    print(f"  {kind:8} --once {eps:7,.0f} events/s (collect {collect:,.0f}/s, "
                          f"then store {store:,.0f}/s)   --watch {watched:7,.0f} events/s   "
                          f"raw executemany {raw:7,.0f} rows/s   ratio (watch) "
                          f"{watched / raw:.2f}")
                    if kind == "mariadb" and max(eps, watched) < TARGET_EPS:
                        ok = False
                        print(f"  FAIL: below {TARGET_EPS:,.0f} events/s into MariaDB")
                if not maria_url:
                    print("  MariaDB: not measured (no DECNET_TEST_MARIADB_URL)")
                    ok = False
            events, baseline = latency(client, tmp, args.paced, args.rate, token)
            e50, e99, emax = percentiles(events)
            b50, b99, bmax = percentiles(baseline)
            print(f"latency, {args.paced} lines at {args.rate}/s, ingest --watch (SQLite)")
            print(f"  stdout -> bus   p50 {e50 * 1000:7.1f} ms  p99 {e99 * 1000:7.1f} ms  "
                  f"max {emax * 1000:7.1f} ms")
            print(f"  bus baseline    p50 {b50 * 1000:7.1f} ms  p99 {b99 * 1000:7.1f} ms  "
                  f"max {bmax * 1000:7.1f} ms   ratio p99 {e99 / max(b99, 1e-6):.0f}x")
            if e99 >= TARGET_P99_S:
                ok = False
                print(f"  FAIL: p99 not under {TARGET_P99_S:.0f} s")
    finally:
        for container in client.containers.list(all=True,
                                                filters={"label": f"decnet.bench={token}"}):
            container.remove(force=True)
        client.close()
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
