"""Benchmark: the MazeNET event bus against nats-server, publish -> deliver.

Run: .venv/bin/python bench/bench_bus.py [--messages 100000] [--paced-seconds 3]

Starts both servers itself (our `python -m decnet_lib.bus bus serve` on a UNIX socket in a temp
dir, `nats-server` on a free loopback port), runs the same scenarios against each from one
client process (one publisher connection, one connection per subscriber; nats through the
`nats-py` client), then stops both by PID:

* throughput 1->1 and 1->10: N messages (~100-byte JSON payloads) as fast as the publisher can,
  with at most --window messages in flight to the slowest subscriber (same for both systems,
  so neither drops); throughput = N / (last delivery - first publish); latency under load.
* paced 10,000 msg/s for --paced-seconds, 1->1 and 1->10: p50/p99/max publish->deliver latency.

Latency is perf_counter_ns at publish (inside the payload) to receipt in the subscriber, same
process. Prints a table, ratios vs NATS, and PASS/FAIL for the targets (throughput >= 0.5 x
NATS; paced 1->1 p99 < 2 ms; the paced 1->10 p99 is printed as INFO). Repeats are
interleaved between the two systems and the best run of each is kept. Exit status 1 when a
target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson

from decnet_lib.bus.client import BusClient

TOPIC = "bench.events.tick"
PATTERN = "bench.events.*"
PAD = "x" * 60
TARGET_RATIO = 0.5
TARGET_P99_MS = 2.0
PACED_RATE = 10_000


@dataclass
class Result:
    """One scenario on one system."""

    system: str
    scenario: str
    subscribers: int
    messages: int
    seconds: float
    delivered: int
    latencies_ns: list[int] = field(repr=False)

    @property
    def throughput(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        data = sorted(self.latencies_ns)
        if not data:
            return float("nan")
        return data[min(len(data) - 1, int(q * len(data)))] / 1e6


class Tally:
    """Receipt counts and latencies of every subscriber."""

    def __init__(self, subscribers: int, expected: int) -> None:
        self.counts = [0] * subscribers
        self.expected = expected
        self.latencies: list[int] = []
        self.last = 0.0
        self.done = asyncio.Event()
        self._finished = 0

    def hit(self, index: int, sent_ns: int) -> None:
        now = time.perf_counter_ns()
        self.latencies.append(now - sent_ns)
        self.counts[index] += 1
        if self.counts[index] == self.expected:
            self._finished += 1
            if self._finished == len(self.counts):
                self.last = now / 1e9
                self.done.set()

    def slowest(self) -> int:
        return min(self.counts)


# -- systems under test ------------------------------------------------------------------------
class System:
    """One publisher and N subscribers on one bus."""

    name = ""

    async def setup(self, subscribers: int, tally: Tally) -> None:
        raise NotImplementedError

    async def publish(self, payload: dict[str, Any]) -> None:
        raise NotImplementedError

    async def flush(self) -> None:
        raise NotImplementedError

    async def teardown(self) -> None:
        raise NotImplementedError


class DecnetSystem(System):
    name = "decnet-bus"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.clients: list[BusClient] = []
        self.tasks: list[asyncio.Task[None]] = []

    async def setup(self, subscribers: int, tally: Tally) -> None:
        self.pub = BusClient(self.path, "bench-pub", publish_timeout=30.0)
        await self.pub.connect()
        for index in range(subscribers):
            client = BusClient(self.path, f"bench-sub-{index}", sub_queue_size=1_000_000)
            await client.connect()
            sub = await client.subscribe(PATTERN)
            self.clients.append(client)

            async def consume(sub: Any = sub, index: int = index) -> None:
                hit = tally.hit
                async for event in sub:
                    hit(index, event.payload["t"])

            self.tasks.append(asyncio.create_task(consume()))

    async def publish(self, payload: dict[str, Any]) -> None:
        await self.pub.publish(TOPIC, payload)

    async def flush(self) -> None:
        await self.pub.ping()

    async def teardown(self) -> None:
        for client in [self.pub, *self.clients]:
            await client.close()
        for task in self.tasks:
            task.cancel()
        self.clients, self.tasks = [], []


class NatsSystem(System):
    name = "nats-server"

    def __init__(self, url: str) -> None:
        self.url = url
        self.conns: list[Any] = []

    async def setup(self, subscribers: int, tally: Tally) -> None:
        import nats

        self.pub = await nats.connect(self.url, name="bench-pub")
        for index in range(subscribers):
            conn = await nats.connect(self.url, name=f"bench-sub-{index}")

            async def handler(msg: Any, index: int = index) -> None:
                tally.hit(index, orjson.loads(msg.data)["t"])

            await conn.subscribe(PATTERN, cb=handler, pending_msgs_limit=1_000_000,
                                 pending_bytes_limit=1 << 30)
            await conn.flush()
            self.conns.append(conn)

    async def publish(self, payload: dict[str, Any]) -> None:
        await self.pub.publish(TOPIC, orjson.dumps(payload))

    async def flush(self) -> None:
        await self.pub.flush()

    async def teardown(self) -> None:
        for conn in [self.pub, *self.conns]:
            await conn.close()
        self.conns = []


# -- scenarios ---------------------------------------------------------------------------------
async def wait_done(tally: Tally, timeout: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(tally.done.wait(), timeout)


async def run_throughput(system: System, subscribers: int, messages: int,
                         window: int) -> Result:
    tally = Tally(subscribers, messages)
    await system.setup(subscribers, tally)
    try:
        await warm_up(system, tally)
        start = time.perf_counter()
        for seq in range(messages):
            if seq - tally.slowest() > window:
                while seq - tally.slowest() > window // 2:
                    await asyncio.sleep(0)
            await system.publish({"seq": seq, "t": time.perf_counter_ns(), "pad": PAD})
        await system.flush()
        await wait_done(tally, 60)
        end = tally.last or time.perf_counter()
    finally:
        await system.teardown()
    return Result(system.name, "throughput", subscribers, messages, end - start,
                  sum(tally.counts), tally.latencies)


async def run_paced(system: System, subscribers: int, seconds: float, rate: int) -> Result:
    messages = int(seconds * rate)
    tally = Tally(subscribers, messages)
    await system.setup(subscribers, tally)
    try:
        await warm_up(system, tally)
        start = time.perf_counter()
        sent = 0
        while sent < messages:
            due = min(messages, int((time.perf_counter() - start) * rate) + 1)
            while sent < due:
                await system.publish({"seq": sent, "t": time.perf_counter_ns(), "pad": PAD})
                sent += 1
            await asyncio.sleep(0.0002)
        await system.flush()
        await wait_done(tally, 30)
        end = tally.last or time.perf_counter()
    finally:
        await system.teardown()
    return Result(system.name, f"paced {rate}/s", subscribers, messages, end - start,
                  sum(tally.counts), tally.latencies)


async def warm_up(system: System, tally: Tally) -> None:
    for _ in range(200):
        await system.publish({"seq": -1, "t": time.perf_counter_ns(), "pad": PAD})
    await system.flush()
    await asyncio.sleep(0.2)
    tally.counts = [0] * len(tally.counts)
    tally.latencies.clear()


# -- servers -----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise SystemExit(f"{what} did not come up within {timeout} s")


def connectable(family: int, address: Any) -> Callable[[], bool]:
    def check() -> bool:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(address)
            except OSError:
                return False
            return True
    return check


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a server we started, by its PID."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()


# -- report ------------------------------------------------------------------------------------
def table(results: list[Result]) -> str:
    head = (f"{'system':<12} {'scenario':<15} {'subs':>4} {'msgs':>8} {'msg/s':>10} "
            f"{'deliv/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'lost':>6}")
    lines = [head, "-" * len(head)]
    for r in results:
        lost = r.messages * r.subscribers - r.delivered
        lines.append(
            f"{r.system:<12} {r.scenario:<15} {r.subscribers:>4} {r.messages:>8} "
            f"{r.throughput:>10,.0f} {r.throughput * r.subscribers:>10,.0f} "
            f"{r.pct(0.5):>8.3f} {r.pct(0.99):>8.3f} {r.pct(1.0):>8.3f} {lost:>6}")
    return "\n".join(lines)


def verdicts(results: list[Result]) -> list[str]:
    by = {(r.system, r.scenario, r.subscribers): r for r in results}
    lines = []
    for (system, scenario, subs), ours in sorted(by.items()):
        if system != DecnetSystem.name:
            continue
        theirs = by.get((NatsSystem.name, scenario, subs))
        if theirs is None:
            continue
        if scenario == "throughput":
            ratio = ours.throughput / theirs.throughput
            ok = ratio >= TARGET_RATIO
            lines.append(f"{'PASS' if ok else 'FAIL'} throughput 1->{subs}: {ratio:.2f} x NATS "
                         f"(target >= {TARGET_RATIO})")
        else:
            # the target is per message stream (1->1); 1->10 means 100,000 deliveries/s into
            # this one Python client process and is reported for information
            p99 = ours.pct(0.99)
            ok = p99 < TARGET_P99_MS
            verdict = ("PASS" if ok else "FAIL") if subs == 1 else "INFO"
            lines.append(f"{verdict} {scenario} 1->{subs}: p99 {p99:.3f} ms "
                         f"(NATS {theirs.pct(0.99):.3f} ms; p99 ratio "
                         f"{p99 / theirs.pct(0.99):.2f}; target < {TARGET_P99_MS} ms)")
    return lines


async def run_all(args: argparse.Namespace, systems: list[System]) -> list[Result]:
    plans: list[tuple[str, Callable[[System], Awaitable[Result]]]] = [
        ("throughput 1->1", lambda s: run_throughput(s, 1, args.messages, args.window)),
        ("throughput 1->10",
         lambda s: run_throughput(s, 10, args.messages // 5, args.window)),
        ("paced 1->1", lambda s: run_paced(s, 1, args.paced_seconds, PACED_RATE)),
        ("paced 1->10", lambda s: run_paced(s, 10, args.paced_seconds, PACED_RATE)),
    ]
    best: dict[tuple[str, str], Result] = {}
    for _ in range(args.repeat):  # interleaved, so that noise from other jobs hits both systems
        for label, plan in plans:
            for system in systems:
                result = await plan(system)
                key = (label, system.name)
                if key not in best or _better(result, best[key]):
                    best[key] = result
                print(f"  {system.name:<12} {label:<17} {result.throughput:>10,.0f} msg/s  "
                      f"p99 {result.pct(0.99):.3f} ms", file=sys.stderr, flush=True)
    results = [best[(label, system.name)] for label, _ in plans for system in systems]
    return results


def _better(a: Result, b: Result) -> bool:
    if a.scenario == "throughput":
        return a.throughput > b.throughput
    return a.pct(0.99) < b.pct(0.99)


IDLE_TARGET_MS = 10.0
IDLE_BUDGET_KIB = 256 + 256 + 256  # queue budget + transport high water + kernel buffer


def rss_mib(pid: int) -> float:
    """Resident memory of a process, MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def run_idle_subscribers(sock: Path, server_pid: int, subscribers: int,
                               messages: int) -> tuple[float, float, float, float]:
    """`subscribers` connections that subscribe and never read; one publisher sends
    `messages` 1 KiB events. Returns (worst publish ms, p99.9 ms, RSS before, after)."""
    before = rss_mib(server_pid)
    socks = []
    for _ in range(subscribers):
        raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        raw.connect(str(sock))
        raw.sendall(b"SUB bench.>\n\x00\x00\x00\x00")
        socks.append(raw)
    pub = BusClient(sock, "bench-idle-pub", publish_timeout=30.0)
    await pub.connect()
    await pub.ping()
    payload = {"pad": "x" * 1000}
    times = []
    for index in range(messages):
        start = time.perf_counter()
        await pub.publish(TOPIC, payload)
        times.append(time.perf_counter() - start)
        if index % 1000 == 999:
            await pub.ping()
    await pub.ping()
    after = rss_mib(server_pid)
    await pub.close()
    for raw in socks:
        raw.close()
    times.sort()
    return times[-1] * 1e3, times[int(0.999 * len(times))] * 1e3, before, after


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000,
                        help="messages for 1->1 throughput (1->10 uses a fifth)")
    parser.add_argument("--window", type=int, default=2000,
                        help="max messages in flight to the slowest subscriber")
    parser.add_argument("--paced-seconds", type=float, default=3.0)
    parser.add_argument("--repeat", type=int, default=3, help="runs per scenario; best kept")
    parser.add_argument("--nats-server", default=shutil.which("nats-server") or
                        "/usr/bin/nats-server")
    parser.add_argument("--idle-subscribers", type=int, default=200,
                        help="subscribers that never read, for the back-pressure scenario")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-bus-"))
    sock = tmp / "bus.sock"
    port = free_port()
    ours = subprocess.Popen(
        [sys.executable, "-m", "decnet_lib.bus", "bus", "serve", "--socket", str(sock),
         "--health-interval", "0"],
        stderr=subprocess.DEVNULL, cwd=Path(__file__).resolve().parents[1])
    theirs = subprocess.Popen([args.nats_server, "-a", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(connectable(socket.AF_UNIX, str(sock)), "the decnet bus")
        wait_for(connectable(socket.AF_INET, ("127.0.0.1", port)), "nats-server")
        print(f"machine: {platform.machine()}, nproc {os.cpu_count()}, "
              f"Python {platform.python_version()}, {platform.platform()}")
        version = subprocess.run([args.nats_server, "--version"], capture_output=True,
                                 text=True).stdout.strip()
        print(f"servers: decnet bus (pid {ours.pid}, {sock}); {version} "
              f"(pid {theirs.pid}, 127.0.0.1:{port}); loop: asyncio")
        systems: list[System] = [DecnetSystem(sock), NatsSystem(f"nats://127.0.0.1:{port}")]
        load_before = os.getloadavg()
        results = asyncio.run(run_all(args, systems))
        idle = [asyncio.run(run_idle_subscribers(sock, ours.pid, args.idle_subscribers, 20_000))
                for _ in range(args.repeat)]
        load_after = os.getloadavg()
    finally:
        stop(ours)
        stop(theirs)
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"load average (1 min) before/after: {load_before[0]:.2f} / {load_after[0]:.2f}")
    print(table(results))
    lines = verdicts(results)
    worst = sorted(run[0] for run in idle)[len(idle) // 2]
    grown = max(run[3] - run[2] for run in idle)
    budget = args.idle_subscribers * IDLE_BUDGET_KIB / 1024
    print(f"{args.idle_subscribers} subscribers that never read, 20,000 x 1 KiB events: worst "
          f"publish per run {', '.join(f'{r[0]:.1f}' for r in idle)} ms (p99.9 "
          f"{', '.join(f'{r[1]:.2f}' for r in idle)} ms); server RSS grew by at most "
          f"{grown:.0f} MiB (budget {budget:.0f} MiB = {IDLE_BUDGET_KIB} KiB per subscriber)")
    lines.append(f"{'PASS' if worst < IDLE_TARGET_MS else 'FAIL'}: median of the worst publish "
                 f"with {args.idle_subscribers} idle subscribers {worst:.1f} ms "
                 f"(target < {IDLE_TARGET_MS:.0f} ms)")
    lines.append(f"{'PASS' if grown <= budget else 'FAIL'}: bus memory growth {grown:.0f} MiB "
                 f"within the per-subscriber budget ({budget:.0f} MiB)")
    print("\n".join(lines))
    return 1 if any(line.startswith("FAIL") for line in lines) else 0


if __name__ == "__main__":
    sys.exit(main())
