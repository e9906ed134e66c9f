"""add_decky latency: from enqueue to the new decky's containers running on Docker.

usage: python bench/bench_add_decky.py [--runs 5]
A small maze is deployed on this machine's Docker (labelled, torn down at the end); each
run enqueues one add_decky (1 service) and drains it in-process like `mutate --wait`
(claim, apply, push to the local deployer), then polls Docker until both containers run.
The baseline, measured in the same run, is creating and starting the same two containers
directly with the docker SDK.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import docker

from decnet_lib.db import create_topology, init_db, make_engine, new_session
from decnet_lib.deploy import labels
from decnet_lib.master import lifecycle
from decnet_lib.mutations.queue import enqueue_mutation
from decnet_lib.mutations.reconciler import wait_for_mutation
from decnet_lib.topology.loader import decode_document
from decnet_lib.topology.resolve import resolve
from decnet_lib.validation.validate import validate_data

MAZE = """
name: {name}
lans: [{{name: dmz, subnet: 10.251.0.0/24, dmz: true}}, {{name: inner, subnet: 10.251.1.0/24}}]
deckies: [{{name: gw, services: [ssh], lans: {{dmz: null, inner: null}}, forwards_l3: true}}]
"""


def running(client: docker.DockerClient, topology_id: str, decky: str) -> int:
    filters = labels.topology_filter(topology_id)
    filters["label"].append(f"{labels.DECKY}={decky}")
    return len(client.containers.list(filters=filters))


def baseline(client: docker.DockerClient, network: str, runs: int) -> list[float]:
    """Create+start a base and a service container directly (the same images)."""
    samples = []
    for index in range(runs):
        began = time.perf_counter()
        tag = {"decnet.managed": "true", "decnet.bench": "baseline"}
        base = client.containers.create("decnet/base:latest", init=True, labels=tag,
                                        name=f"dn-bench-{uuid.uuid4().hex[:8]}")
        client.networks.get(network).connect(base, ipv4_address=f"10.251.1.{200 + index}")
        base.start()
        svc = client.containers.create("decnet/svc-ssh:latest", init=True, labels=tag,
                                       network_mode=f"container:{base.id}")
        svc.start()
        samples.append(time.perf_counter() - began)
    for container in client.containers.list(all=True,
                                            filters={"label": "decnet.bench=baseline"}):
        container.remove(force=True)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    client = docker.from_env()
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}", sqlite_immediate=True)
        init_db(engine)
        doc, _ = validate_data(decode_document(MAZE.format(name="addbench").encode()))
        resolved = resolve(doc)
        with new_session(engine) as session:
            create_topology(session, resolved)
            session.commit()
        try:
            assert lifecycle.deploy(engine, "addbench").status == "active"
            push = lifecycle.push_hook()
            samples = []
            for index in range(args.runs):
                began = time.perf_counter()
                with new_session(engine) as session:
                    mutation = enqueue_mutation(session, "addbench", "add_decky",
                                                {"name": f"n{index}", "lan": "inner",
                                                 "services": ["ssh"]})
                    session.commit()
                    mutation_id = mutation.id
                wait_for_mutation(engine, mutation_id, push=push)
                while running(client, resolved.id, f"n{index}") < 2:
                    time.sleep(0.01)
                samples.append(time.perf_counter() - began)
            direct = baseline(client, f"dn-{resolved.id[:8]}-inner", args.runs)
        finally:
            lifecycle.teardown(engine, "addbench")
            engine.dispose()
    ours, theirs = statistics.median(samples), statistics.median(direct)
    print(f"add_decky enqueue -> running: median {ours:.2f} s, max {max(samples):.2f} s "
          f"({args.runs} runs)")
    print(f"baseline (docker SDK create+start of the same 2 containers): median {theirs:.2f} s")
    print(f"ratio {ours / theirs:.2f}x")


if __name__ == "__main__":
    main()
