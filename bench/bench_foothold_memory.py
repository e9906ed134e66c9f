"""Benchmark: the memory of a foothold container at idle (issue 13.5).

Run: .venv/bin/python bench/bench_foothold_memory.py [--image IMAGE] [--idle 10]

Deploys one DMZ decky with an ssh service that accepts a login (`service_config.ssh.accept`,
a foothold) through `Deployer.apply`, with every hardening option of its profile, waits
--idle seconds, and prints the ssh container's memory as the engine's stats report it
(usage without page cache, the figure its memory limit is held to), next to the base
container's and the limit. --image measures another ssh image (the full emulator's sshd).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "support")]

import docker  # noqa: E402
from docker_support import free_subnets, remove_labelled  # noqa: E402

from decnet_lib.catalog import SERVICES  # noqa: E402
from decnet_lib.deploy import labels as L  # noqa: E402
from decnet_lib.deploy.deployer import Deployer  # noqa: E402
from decnet_lib.deploy.naming import base_container_name, service_container_name  # noqa: E402
from decnet_lib.images.build import build_images  # noqa: E402
from decnet_lib.topology.loader import decode_document  # noqa: E402
from decnet_lib.topology.resolve import resolve  # noqa: E402
from decnet_lib.validation.validate import validate_data  # noqa: E402

MIB = 1024 * 1024


def used_bytes(stats: dict[str, Any]) -> int:
    """Memory usage without page cache (cgroup v1 `cache`, v2 `inactive_file`)."""
    memory = stats.get("memory_stats") or {}
    detail = memory.get("stats") or {}
    cache = detail.get("total_inactive_file", detail.get("inactive_file", detail.get("cache", 0)))
    return int(memory.get("usage", 0)) - int(cache)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default=SERVICES["ssh"].image)
    parser.add_argument("--idle", type=float, default=10.0)
    args = parser.parse_args(argv)
    client = docker.from_env(timeout=300)
    if args.image == SERVICES["ssh"].image:
        build_images(client)
    subnet = free_subnets(client, 1)[0]
    doc, issues = validate_data(decode_document(f"""
name: foothold-bench
lans: [{{name: dmz, subnet: {subnet}, dmz: true}}]
deckies:
  - name: gw
    services: [ssh]
    lans: {{dmz: null}}
    service_config: {{ssh: {{accept: [{{user: admin, password: "123456"}}]}}}}
""".encode()))
    assert doc is not None, issues
    topo = resolve(doc)
    topo.deckies[0].images = {"ssh": args.image}
    deployer = Deployer(client)
    try:
        result = deployer.apply(topo)
        if not result.ok:
            raise SystemExit(f"apply failed: {result.message()}")
        time.sleep(args.idle)
        ssh = client.api.stats(service_container_name(topo.id, "gw", "ssh"), stream=False)
        base = client.api.stats(base_container_name(topo.id, "gw"), stream=False)
        limit = (ssh.get("memory_stats") or {}).get("limit", 0)
        print(f"machine: nproc={os.cpu_count()}, python {platform.python_version()}, "
              f"Docker {client.version()['Version']}, image {args.image}, idle {args.idle:g} s")
        print(f"foothold (ssh) container at idle: {used_bytes(ssh) / MIB:.2f} MiB "
              f"(limit {limit / MIB:.0f} MiB); its base: {used_bytes(base) / MIB:.2f} MiB")
    finally:
        deployer.teardown(topo.id)
        remove_labelled(client, L.topology_filter(topo.id))
        deployer.close()
        client.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
