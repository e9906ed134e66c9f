"""Benchmark: memory of the service containers, full emulators against light ones (issue 12.6).

Run: .venv/bin/python bench/bench_emulator_memory.py [--idle 10] [--connections 50]
     [--services ssh,http,...]

Deploys one topology through `Deployer.apply` (every hardening option of the profiles) with
two DMZ deckies carrying the same services: `full` (emulation: full, the Python emulators and
the real sshd) and `light` (emulation: light, the busybox ones, the baseline measured in the
same run). After --idle seconds it reads every container's memory as the engine's stats
report it: cgroup usage minus inactive page cache (v2 `inactive_file`, v1 `cache`), the
figure `docker stats` shows and the memory limit is held to. Then it opens --connections
TCP connections to the first TCP port of every service of both deckies, holds them, waits
3 s and reads again. Prints per service (light, full, ratio), the median per service
container, per decky (base + services), and PASS/FAIL for the budget: median idle memory
of a full service container at most 16 MiB.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import socket
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import docker  # noqa: E402
from docker_support import free_subnets, remove_labelled  # noqa: E402

from decnet_lib.catalog import SERVICES  # noqa: E402
from decnet_lib.deploy import labels as L  # noqa: E402
from decnet_lib.deploy.deployer import Deployer  # noqa: E402
from decnet_lib.deploy.naming import base_container_name, service_container_name  # noqa: E402
from decnet_lib.images.build import build_images  # noqa: E402
from decnet_lib.topology.resolve import resolve  # noqa: E402
from decnet_lib.validation.validate import validate_data  # noqa: E402

MIB = 1024 * 1024
BUDGET_MIB = 16.0
MODES = ("light", "full")


def used_bytes(stats: dict[str, Any]) -> int:
    """Memory usage without page cache (cgroup v1 `cache`, v2 `inactive_file`)."""
    memory = stats.get("memory_stats") or {}
    detail = memory.get("stats") or {}
    cache = detail.get("total_inactive_file", detail.get("inactive_file", detail.get("cache", 0)))
    return int(memory.get("usage", 0)) - int(cache)


def document(subnet: Any, services: list[str]) -> dict[str, Any]:
    return {"name": "emumem-bench", "lans": [{"name": "dmz", "subnet": str(subnet), "dmz": True}],
            "deckies": [{"name": mode, "emulation": mode, "services": services,
                         "lans": {"dmz": str(subnet.network_address + 10 + i)}}
                        for i, mode in enumerate(MODES)]}


def memory(client: Any, names: list[str]) -> dict[str, float]:
    """MiB used by each named container (stats read in parallel)."""
    def one(name: str) -> float:
        return used_bytes(client.api.stats(name, stream=False)) / MIB

    with ThreadPoolExecutor(8) as pool:
        return dict(zip(names, pool.map(one, names), strict=True))


def open_connections(address: str, port: int, count: int) -> list[socket.socket]:
    held = []
    for _ in range(count):
        with contextlib.suppress(OSError):
            held.append(socket.create_connection((address, port), timeout=3))
    return held


def first_tcp_port(service: str) -> int | None:
    return next((p.number for p in SERVICES[service].ports if p.protocol == "tcp"), None)


def report(services: list[str], idle: dict[str, float], busy: dict[str, float],
           names: dict[tuple[str, str], str], connections: int, held: dict[str, int]) -> bool:
    print(f"{'service':<14} | {'light idle':>10} {'full idle':>10} {'ratio':>6} | "
          f"{'light +' + str(connections):>10} {'full +' + str(connections):>10} "
          f"{'conns':>9}")
    for svc in services:
        light, full = names[("light", svc)], names[("full", svc)]
        print(f"{svc:<14} | {idle[light]:>10.2f} {idle[full]:>10.2f} "
              f"{idle[full] / max(idle[light], 0.01):>5.1f}x | {busy[light]:>10.2f} "
              f"{busy[full]:>10.2f} {held.get(light, 0):>4}/{held.get(full, 0):<4}")
    print("(MiB; conns = connections the light/full service accepted and held)")
    ok = True
    for phase, values in (("idle", idle), (f"{connections} connections", busy)):
        medians = {m: statistics.median(values[names[(m, s)]] for s in services) for m in MODES}
        deckies = {m: values[names[(m, "_base")]] + sum(values[names[(m, s)]] for s in services)
                   for m in MODES}
        print(f"{phase}: median per service container light {medians['light']:.2f} MiB, "
              f"full {medians['full']:.2f} MiB ({medians['full'] / medians['light']:.1f}x); "
              f"per decky ({len(services)} services + base) light {deckies['light']:.1f} MiB, "
              f"full {deckies['full']:.1f} MiB ({deckies['full'] / deckies['light']:.1f}x)")
        if phase == "idle":
            passed = medians["full"] <= BUDGET_MIB
            ok &= passed
            print(f"{'PASS' if passed else 'FAIL'}: median idle full service container "
                  f"{medians['full']:.2f} MiB (budget <= {BUDGET_MIB:g} MiB)")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--services", default=",".join(SERVICES))
    args = parser.parse_args(argv)
    services = [s for s in args.services.split(",") if s]
    client = docker.from_env(timeout=300)
    build_images(client, services=services)
    subnet = free_subnets(client, 1)[0]
    doc, issues = validate_data(document(subnet, services))
    assert doc is not None and not [i for i in issues if i.severity == "error"], issues
    topo = resolve(doc)
    names = {(d.name, s): service_container_name(topo.id, d.name, s)
             for d in topo.deckies for s in services}
    names.update({(d.name, "_base"): base_container_name(topo.id, d.name) for d in topo.deckies})
    address = {d.name: str(subnet.network_address + 10 + i) for i, d in enumerate(topo.deckies)}
    deployer = Deployer(client)
    sockets: list[socket.socket] = []
    try:
        started = time.perf_counter()
        result = deployer.apply(topo)
        if not result.ok:
            raise SystemExit(f"apply failed: {result.message()}")
        print(f"machine: nproc={os.cpu_count()}, python {platform.python_version()}, "
              f"Docker {client.version()['Version']}; 2 deckies x {len(services)} services "
              f"deployed in {time.perf_counter() - started:.1f} s; idle {args.idle:g} s",
              flush=True)
        time.sleep(args.idle)
        idle = memory(client, list(names.values()))
        held: dict[str, int] = {}
        for (mode, svc), name in names.items():
            port = first_tcp_port(svc) if svc != "_base" else None
            if port is not None:
                got = open_connections(address[mode], port, args.connections)
                held[name] = len(got)
                sockets += got
        time.sleep(3)
        busy = memory(client, list(names.values()))
        ok = report(services, idle, busy, names, args.connections, held)
    finally:
        for sock in sockets:
            sock.close()
        deployer.teardown(topo.id)
        remove_labelled(client, L.topology_filter(topo.id))
        deployer.close()
        client.close()
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
