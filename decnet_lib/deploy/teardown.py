"""Teardown and the orphan reaper: they work from labels only, never from a spec.

So a renamed or half-deployed decky is still found; an object without our labels is never
removed. Containers go first (services, then the rest, forced), then networks.
"""

from __future__ import annotations

from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from docker import DockerClient

from decnet_lib.deploy import labels as L
from decnet_lib.deploy import ops
from decnet_lib.deploy.execute import removal_task
from decnet_lib.deploy.failures import ObjectError
from decnet_lib.deploy.observed import Observed, observe, observe_managed
from decnet_lib.deploy.pool import DEFAULT_WORKERS, ProgressFn, Runner, Task, make_pool

PASSES = 2  # a second look catches objects created while the first pass ran


@dataclass
class TeardownResult:
    """What a teardown removed (or, in a dry run, would remove), and what failed."""

    topology_id: str
    containers: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    errors: list[ObjectError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {"topology_id": self.topology_id, "containers": self.containers,
                "networks": self.networks, "errors": [e.to_dict() for e in self.errors]}


def remove_observed(
    client: DockerClient, found: Observed, runner: Runner, result: TeardownResult
) -> None:
    """Remove the given labelled objects: services, other containers, then networks."""
    api = client.api
    runner.total += len(found.containers) + len(found.networks)
    for services in (True, False):
        runner.run(removal_task(api, c) for c in found.containers
                   if (c.role == L.ROLE_SERVICE) == services)
    runner.run(
        Task("network", n.name, "remove", partial(ops.remove_network, api, n.id))
        for n in found.networks
    )
    failed = set(runner.failed)
    result.containers += [c.name for c in found.containers if ("container", c.name) not in failed]
    result.networks += [n.name for n in found.networks if ("network", n.name) not in failed]


def _teardown(
    client: DockerClient, topology_id: str, runner: Runner, first: Observed | None = None
) -> TeardownResult:
    result = TeardownResult(topology_id)
    found = first if first is not None else observe(client, topology_id)
    for _ in range(PASSES):
        if not (found.containers or found.networks):
            break
        runner.errors.clear()
        runner.failed.clear()
        remove_observed(client, found, runner, result)
        found = observe(client, topology_id)
    result.errors = list(runner.errors)
    result.containers = sorted(set(result.containers))
    result.networks = sorted(set(result.networks))
    return result


def teardown(
    client: DockerClient,
    topology_id: str,
    *,
    workers: int = DEFAULT_WORKERS,
    progress: ProgressFn | None = None,
    pool: ThreadPoolExecutor | None = None,
) -> TeardownResult:
    """Remove every container (forced) then network labelled with this topology id."""
    own_pool = pool is None
    pool = pool or make_pool(workers)
    try:
        return _teardown(client, topology_id, Runner(pool, slots=workers, progress=progress))
    finally:
        if own_pool:
            pool.shutdown(wait=True)


@dataclass
class ReapResult:
    """Per orphan topology id, what was (or would be) removed."""

    topologies: dict[str, TeardownResult] = field(default_factory=dict)
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return all(result.ok for result in self.topologies.values())

    @property
    def errors(self) -> list[ObjectError]:
        return [e for result in self.topologies.values() for e in result.errors]

    def to_dict(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run,
                "topologies": {k: v.to_dict() for k, v in self.topologies.items()}}


def reap_orphans(
    client: DockerClient,
    keep_topology_ids: Collection[str],
    *,
    within: Collection[str] | None = None,
    dry_run: bool = False,
    workers: int = DEFAULT_WORKERS,
    progress: ProgressFn | None = None,
) -> ReapResult:
    """Tear down the managed objects of every topology not in `keep_topology_ids`.

    `within` limits the reaper to those topology ids (None: every topology on the engine).
    Objects labelled `decnet.managed=true` but without a topology id are left alone: they
    cannot be attributed to a topology. `dry_run` lists and removes nothing.
    """
    keep = set(keep_topology_ids)
    groups = {
        topology_id: found
        for topology_id, found in observe_managed(client).by_topology().items()
        if topology_id not in keep and (within is None or topology_id in within)
    }
    result = ReapResult(dry_run=dry_run)
    if dry_run:
        for topology_id, found in sorted(groups.items()):
            result.topologies[topology_id] = TeardownResult(
                topology_id,
                containers=[c.name for c in found.containers],
                networks=[n.name for n in found.networks],
            )
        return result
    pool = make_pool(workers)
    try:
        for topology_id, found in sorted(groups.items()):
            runner = Runner(pool, slots=workers, progress=progress)
            result.topologies[topology_id] = _teardown(client, topology_id, runner, found)
    finally:
        pool.shutdown(wait=True)
    return result
