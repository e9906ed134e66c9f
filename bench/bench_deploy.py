"""Benchmark: deploy and teardown on Docker, the Deployer against a plain-SDK baseline.

Run: .venv/bin/python bench/bench_deploy.py [--sizes 10,50,100] [--repeat 2] [--workers 8]
     [--emulation test|light|full] [--service ssh]

For each size n: a maze of n deckies with one service each (ssh), LANs of 25 deckies (the
first LAN is the DMZ; the first decky of every other LAN also sits on the previous LAN and
forwards), static IPs. Timed (time.perf_counter), best of --repeat, the two arms alternating:
- deployer: `Deployer.apply` (observe by label + plan + execute on the pool + verify, which
  waits `settle` s after the last start) and a no-op re-apply; `Deployer.teardown`;
- baseline: the same networks and containers (same images, static IPs, labels, init, env)
  created straight with the docker SDK's low-level API on a ThreadPoolExecutor(8): networks,
  then per decky one task (create base, connect other LANs, start, create+start service);
  teardown: stop + forced removal of the containers (services, then bases), then the
  networks, on the same pool. By default the baseline starts and stops bases under the
  same per-network locks as the Deployer (see decnet_lib/deploy/ops.NetworkLocks: without
  them Engine 20.10 can leak networks); --naive-baseline drops them.
A teardown that leaves a labelled network behind is reported as a FAIL.
Both use the test image of tests/support/docker_support.py (decnet/base:latest, else a busybox one)
for the bases and, with --emulation test (the default), for the service too; --emulation
light|full runs the service's own image instead (`decnet/svc-<name>-light`, the busybox
emulator, or `decnet/svc-<name>`, the Python emulator / real sshd; built first), with the
hardening profile the Deployer gives it (the baseline creates it plainly). That image is
pinned under a private tag for the run (`decnet-bench/svc-<name>:<run>`, removed at the
end): on a machine where other builds re-tag `decnet/svc-*` meanwhile, the Deployer would
rightly see the image moved and plan a recreate on the no-op re-apply.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import platform
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "support")]

import docker  # noqa: E402
from docker import DockerClient  # noqa: E402
from docker.types import IPAMConfig, IPAMPool  # noqa: E402
from docker_support import free_subnets, pick_image, remove_labelled  # noqa: E402

from decnet_lib.deploy import labels as L  # noqa: E402
from decnet_lib.deploy.deployer import Deployer  # noqa: E402
from decnet_lib.deploy.ops import NetworkLocks  # noqa: E402
from decnet_lib.deploy.spec import DesiredState, desired_state  # noqa: E402
from decnet_lib.images.build import build_images  # noqa: E402
from decnet_lib.topology.resolve import default_image  # noqa: E402
from decnet_lib.topology.resolved import ResolvedDecky, ResolvedLan, ResolvedTopology  # noqa: E402

PER_LAN = 25
TARGET_RATIO = 1.3
TARGET_N, TARGET_SECONDS = 100, 30.0


def topology(n: int, subnets: list[ipaddress.IPv4Network], image: str, service: str = "ssh",
             emulation: str = "test") -> ResolvedTopology:
    """n deckies with one service each over ceil(n / 25) LANs, IPs pinned."""
    service_image = image if emulation == "test" else default_image(service, emulation)
    service_image = PINNED.get(service_image, service_image)
    lans = [
        ResolvedLan(id=uuid.uuid4().hex, name=f"lan{i}", subnet=str(net),
                    gateway=str(net.network_address + 1), dmz=i == 0)
        for i, net in enumerate(subnets)
    ]
    deckies = []
    for i in range(n):
        k = i // PER_LAN
        ips = {f"lan{k}": str(subnets[k].network_address + 10 + i % PER_LAN)}
        bridge = k > 0 and i % PER_LAN == 0
        if bridge:
            ips[f"lan{k - 1}"] = str(subnets[k - 1].network_address + 200)
        deckies.append(ResolvedDecky(
            id=uuid.uuid4().hex, name=f"d{i}", services=[service], lans=ips,
            forwards_l3=bridge, images={service: service_image},
            emulation="light" if emulation == "test" else emulation,
        ))
    return ResolvedTopology(id=uuid.uuid4().hex, name="bench", lans=lans, deckies=deckies)


# -- the baseline: the same objects, straight from the SDK --------------------------------
@dataclass
class Baseline:
    """Direct SDK calls. `safe`: base start/stop under per-network locks, as the Deployer
    does (Engine 20.10 miscounts endpoints otherwise and can leak networks for good)."""

    client: DockerClient
    workers: int
    safe: bool = True
    locks: NetworkLocks = field(default_factory=NetworkLocks)

    def _hold(self, networks: Any) -> Any:
        return self.locks.hold(networks if self.safe else ())

    def _decky(self, desired: DesiredState, base: str) -> None:
        api = self.client.api
        spec = desired.containers[base]
        home, ip = spec.networks[0]
        cid = api.create_container(
            spec.image, name=spec.name, hostname=spec.hostname, labels=spec.labels,
            detach=True, host_config=api.create_host_config(
                network_mode=home, init=True, sysctls=spec.sysctls or None),
            networking_config=api.create_networking_config(
                {home: api.create_endpoint_config(ipv4_address=ip)}),
        )["Id"]
        for net, other_ip in spec.networks[1:]:
            api.connect_container_to_network(cid, net, ipv4_address=other_ip)
        with self._hold(net for net, _ in spec.networks):
            api.start(cid)
        for svc in desired.services():
            if svc.base == base:
                sid = api.create_container(
                    svc.image, name=svc.name, labels=svc.labels, environment=svc.environment,
                    detach=True, host_config=api.create_host_config(
                        network_mode=f"container:{cid}", init=True),
                )["Id"]
                api.start(sid)

    def deploy(self, desired: DesiredState) -> None:
        api = self.client.api
        with ThreadPoolExecutor(self.workers) as pool:
            futures = [
                pool.submit(
                    api.create_network, net.name, driver=net.driver, internal=net.internal,
                    labels=net.labels, check_duplicate=True, ipam=IPAMConfig(
                        pool_configs=[IPAMPool(subnet=net.subnet, gateway=net.gateway)]),
                )
                for net in desired.networks.values()
            ]
            for future in futures:
                future.result()
            futures = [pool.submit(self._decky, desired, base.name) for base in desired.bases()]
            for future in futures:
                future.result()

    def _remove(self, item: dict[str, Any]) -> None:
        api = self.client.api
        with self._hold((item.get("NetworkSettings") or {}).get("Networks") or {}):
            api.stop(item["Id"], timeout=2)
        api.remove_container(item["Id"], force=True, v=True)

    def teardown(self, topology_id: str) -> None:
        api, filters = self.client.api, L.topology_filter(topology_id)
        with ThreadPoolExecutor(self.workers) as pool:
            found = api.containers(all=True, filters=filters)
            for role in ("service", "base"):
                list(pool.map(self._remove, [c for c in found if c["Labels"].get(L.ROLE) == role]))
            list(pool.map(api.remove_network, [n["Id"] for n in api.networks(filters=filters)]))


# -- measuring ----------------------------------------------------------------------------
@dataclass
class Row:
    n: int
    lans: int
    containers: int
    deploy: list[float] = field(default_factory=list)
    execute: list[float] = field(default_factory=list)  # deploy minus the verify wait
    reapply: list[float] = field(default_factory=list)
    teardown: list[float] = field(default_factory=list)
    base_deploy: list[float] = field(default_factory=list)
    base_teardown: list[float] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)  # networks left behind by a teardown


def timed(func: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = func()
    return time.perf_counter() - start, result


def run_deployer(client: DockerClient, topo: ResolvedTopology, image: str, row: Row,
                 workers: int, settle: float) -> None:
    deployer = Deployer(client, base_image=image, workers=workers, settle=settle)
    marks: list[float] = []
    start = time.perf_counter()
    result = deployer.apply(topo, progress=lambda *_: marks.append(time.perf_counter()))
    row.deploy.append(time.perf_counter() - start)
    row.execute.append((marks[-1] if marks else start) - start)
    if not result.ok:
        raise SystemExit(f"deployer apply failed: {result.message()}")
    seconds, again = timed(lambda: deployer.apply(topo))
    if again.plan.changed:
        raise SystemExit("re-apply planned changes")
    row.reapply.append(seconds)
    seconds, gone = timed(lambda: deployer.teardown(topo.id))
    if not gone.ok:
        raise SystemExit(f"deployer teardown failed: {gone.errors[0]}")
    row.teardown.append(seconds)


def run_baseline(client: DockerClient, topo: ResolvedTopology, image: str, row: Row,
                 baseline: Baseline) -> None:
    desired = desired_state(topo, image)
    seconds, _ = timed(lambda: baseline.deploy(desired))
    row.base_deploy.append(seconds)
    running = client.api.containers(filters=L.topology_filter(topo.id))
    if len(running) != len(desired.containers):
        raise SystemExit(f"baseline: {len(running)} of {len(desired.containers)} running")
    seconds, _ = timed(lambda: baseline.teardown(topo.id))
    row.base_teardown.append(seconds)


def pin_image(client: DockerClient, service: str, emulation: str) -> str:
    """Tag the service's image privately for this run and make the deploy spec use it with
    the profile of the image it copies (`image_emulation`); the private tag."""
    from decnet_lib.deploy import spec as spec_module

    source = default_image(service, emulation)
    repository = f"decnet-bench/{source.split('/', 1)[1].split(':')[0]}"
    tag = uuid.uuid4().hex[:8]
    client.images.get(source).tag(repository, tag)
    pinned = f"{repository}:{tag}"
    original = spec_module.image_emulation
    spec_module.image_emulation = lambda svc, image: (  # type: ignore[assignment]
        emulation if image == pinned else original(svc, image))
    PINNED[source] = pinned
    return pinned


PINNED: dict[str, str] = {}


def measure(client: DockerClient, n: int, image: str, repeat: int, workers: int,
            settle: float, safe: bool, service: str = "ssh", emulation: str = "test") -> Row:
    lans = -(-n // PER_LAN)
    subnets = free_subnets(client, lans)
    row = Row(n, lans, 2 * n)
    for attempt in range(repeat):
        arms = [("deployer", uuid.uuid4().hex), ("baseline", uuid.uuid4().hex)]
        if attempt % 2:
            arms.reverse()
        for arm, topology_id in arms:
            topo = topology(n, subnets, image, service, emulation)
            topo.id = topology_id
            try:
                if arm == "deployer":
                    run_deployer(client, topo, image, row, workers, settle)
                else:
                    run_baseline(client, topo, image, row, Baseline(client, workers, safe))
                leaked = client.api.networks(filters=L.topology_filter(topology_id))
                if leaked:
                    row.leaks.append(f"{arm}: {', '.join(n['Name'] for n in leaked)}")
            finally:
                remove_labelled(client, L.topology_filter(topology_id))
        print(f"  n={n} run {attempt + 1}: deployer {row.deploy[-1]:.2f}s "
              f"baseline {row.base_deploy[-1]:.2f}s", file=sys.stderr, flush=True)
    return row


def report(rows: list[Row], settle: float) -> bool:
    print(f"{'deckies':>7} {'LANs':>4} {'ctrs':>5} | {'deploy s':>8} {'(exec)':>7} "
          f"{'base s':>7} {'ratio':>6} {'(exec)':>7} | {'re-apply':>8} | "
          f"{'teardown':>8} {'base s':>7} {'ratio':>6}")
    ok = True
    for r in rows:
        dep, exe, bdep = min(r.deploy), min(r.execute), min(r.base_deploy)
        tdn, btdn = min(r.teardown), min(r.base_teardown)
        print(f"{r.n:>7} {r.lans:>4} {r.containers:>5} | {dep:>8.2f} {exe:>7.2f} "
              f"{bdep:>7.2f} {dep / bdep:>5.2f}x {exe / bdep:>6.2f}x | {min(r.reapply):>8.3f} | "
              f"{tdn:>8.2f} {btdn:>7.2f} {tdn / btdn:>5.2f}x")
    print(f"(deploy = apply incl. the verify wait of {settle} s after the last start; "
          "(exec) = up to the last progress event, i.e. without that wait)")
    for r in rows:
        for leak in r.leaks:
            ok = False
            print(f"FAIL: n={r.n} teardown left network(s) behind: {leak}")
        for what, mine, base in (("deploy", min(r.deploy), min(r.base_deploy)),
                                 ("teardown", min(r.teardown), min(r.base_teardown))):
            passed = mine <= TARGET_RATIO * base
            ok &= passed
            print(f"{'PASS' if passed else 'FAIL'}: {what} of {r.n} deckies {mine:.2f} s = "
                  f"{mine / base:.2f}x the baseline {base:.2f} s (target <= {TARGET_RATIO}x)")
        if r.n == TARGET_N:
            passed = min(r.deploy) < TARGET_SECONDS
            ok &= passed
            print(f"{'PASS' if passed else 'FAIL'}: {r.n} deckies up in {min(r.deploy):.2f} s "
                  f"(target < {TARGET_SECONDS:.0f} s)")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,50,100", help="comma-separated decky counts")
    parser.add_argument("--repeat", type=int, default=2, help="best of this many runs per arm")
    parser.add_argument("--workers", type=int, default=8, help="pool size (both arms)")
    parser.add_argument("--naive-baseline", action="store_true",
                        help="baseline without per-network locks (may leak networks on 20.10)")
    parser.add_argument("--emulation", choices=("test", "light", "full"), default="test",
                        help="the service's image: the test image, or its light/full one")
    parser.add_argument("--service", default="ssh", help="the one service of every decky")
    parser.add_argument("--settle", type=float, default=None,
                        help="verify wait after the last start (default: the Deployer's)")
    args = parser.parse_args(argv)
    client = docker.from_env(timeout=300, max_pool_size=max(10, args.workers + 2))
    image = pick_image(client)
    pinned = ""
    if args.emulation != "test":
        build_images(client, services=[args.service], modes=(args.emulation,))
        pinned = pin_image(client, args.service, args.emulation)
    settle = args.settle if args.settle is not None else Deployer(client).settle
    info = client.version()
    print(f"machine: nproc={os.cpu_count()}, python {platform.python_version()}, "
          f"Docker {info['Version']} (API {info['ApiVersion']}), image {image}, "
          f"workers {args.workers}, best of {args.repeat}, service {args.service} "
          f"({args.emulation} image), "
          f"{'naive' if args.naive_baseline else 'safe'} baseline")
    rows = [measure(client, int(n), image, args.repeat, args.workers, settle,
                    not args.naive_baseline, args.service, args.emulation)
            for n in args.sizes.split(",")]
    ok = report(rows, settle)
    if pinned:
        client.images.remove(pinned, noprune=True)
    client.close()
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
