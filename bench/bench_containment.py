"""Benchmark: what containment costs a deploy (issue 13.5).

Run: .venv/bin/python bench/bench_containment.py [--deckies 50] [--repeat 3]

The maze of bench_deploy.py (n deckies with one service each, LANs of 25, static IPs),
deployed by `Deployer.apply` and torn down, the two arms alternating: containment on (the
topology's iptables chains and jumps first, then the containers, then the default routes
of the internal deckies removed) and off. Best of --repeat per arm; prints both figures
and the ratio. Target: on <= 1.15 x off. Exit status 1 when missed. On a loaded machine the
two arms' spread is wider than the cost itself, so the time spent in containment's own steps
(the plan's rule check, the rules before the containers, the per-namespace steps after) is
timed too and printed as a share of the "on" deploy.
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "support"), str(ROOT / "bench")]

import docker  # noqa: E402
from bench_deploy import topology  # noqa: E402
from docker_support import free_subnets, pick_image, remove_labelled  # noqa: E402

from decnet_lib.deploy import containment_steps as contain  # noqa: E402
from decnet_lib.deploy import labels as L  # noqa: E402
from decnet_lib.deploy.containment import Firewall  # noqa: E402
from decnet_lib.deploy.deployer import Deployer  # noqa: E402

TARGET_RATIO = 1.15
OWN_STEPS: list[float] = []  # seconds spent in containment's own steps, per call


def _timed(owner: type, name: str) -> None:
    """Wrap a method so that its time adds to OWN_STEPS."""
    method = getattr(owner, name)

    @functools.wraps(method)
    def wrapper(*args: object, **kwargs: object) -> object:
        start = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            OWN_STEPS.append(time.perf_counter() - start)

    setattr(owner, name, wrapper)


for _owner, _name in ((contain.AroundDeploy, "before"), (contain.AroundDeploy, "after"),
                      (Firewall, "pending")):
    _timed(_owner, _name)


def deploy_seconds(client: docker.DockerClient, n: int, image: str, containment: bool) -> float:
    subnets = free_subnets(client, -(-n // 25))
    topo = topology(n, subnets, image)
    deployer = Deployer(client, base_image=image, containment=containment)
    try:
        start = time.perf_counter()
        result = deployer.apply(topo)
        seconds = time.perf_counter() - start
        if not result.ok:
            raise SystemExit(f"apply failed: {result.message()}")
        return seconds
    finally:
        deployer.teardown(topo.id)
        remove_labelled(client, L.topology_filter(topo.id))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deckies", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    client = docker.from_env(timeout=300)
    image = pick_image(client)
    print(f"machine: nproc={os.cpu_count()}, python {platform.python_version()}, "
          f"Docker {client.version()['Version']}, image {image}, {args.deckies} deckies, "
          f"best of {args.repeat}, load {os.getloadavg()[0]:.2f}")
    on, off, own = [], [], []
    for _ in range(args.repeat):
        off.append(deploy_seconds(client, args.deckies, image, containment=False))
        OWN_STEPS.clear()
        on.append(deploy_seconds(client, args.deckies, image, containment=True))
        own.append(sum(OWN_STEPS))
    ratio = min(on) / min(off)
    best = on.index(min(on))
    print(f"deploy, containment off: {min(off):.2f} s (runs {', '.join(f'{s:.2f}' for s in off)})")
    print(f"deploy, containment on:  {min(on):.2f} s (runs {', '.join(f'{s:.2f}' for s in on)})")
    print(f"containment's own steps: {own[best]:.3f} s of the best 'on' deploy "
          f"({100 * own[best] / on[best]:.1f}%; runs {', '.join(f'{s:.3f}' for s in own)})")
    verdict = "PASS" if ratio <= TARGET_RATIO else "FAIL"
    print(f"{verdict}: containment on / off = {ratio:.2f}x (target <= {TARGET_RATIO}x)")
    client.close()
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    raise SystemExit(main())
