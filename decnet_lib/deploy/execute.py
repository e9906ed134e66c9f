"""Run a plan on a bounded thread pool.

Order: remove containers (services, then bases), remove networks, create networks, then
bases (create on the home network with its IP, connect the other LANs with theirs, start),
each base's services as soon as that base is up. Errors are collected per object, never
raised half-way; a service whose base failed is reported as not attempted.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial

from docker import DockerClient

from decnet_lib.deploy import ops
from decnet_lib.deploy.failures import ObjectError
from decnet_lib.deploy.plan import Plan
from decnet_lib.deploy.pool import DEFAULT_WORKERS, ProgressFn, Runner, Task, make_pool
from decnet_lib.deploy.spec import ContainerSpec


@dataclass
class ExecuteResult:
    """What running a plan did: errors by object, and when the last container started."""

    errors: list[ObjectError] = field(default_factory=list)
    done: int = 0
    last_start: float | None = None
    started: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _guarded(
    fn: Callable[[], None], spec: ContainerSpec, failed_networks: set[str]
) -> Callable[[], None]:
    """Refuse to create a base on a network whose creation failed (clearer error)."""

    def run() -> None:
        missing = [net for net, _ in spec.networks if net in failed_networks]
        if missing:
            raise RuntimeError(f"not attempted: network {missing[0]} was not created")
        fn()

    return run


def _container_tasks(
    client: DockerClient, plan: Plan, failed_networks: set[str]
) -> tuple[list[Task], dict[str, list[Task]]]:
    """First-wave tasks (bases, and services whose base is untouched) and base followers."""
    api, topo = client.api, plan.topology_id
    first: list[Task] = []
    followers: dict[str, list[Task]] = {}
    busy_bases = {s.name for s in plan.container_creations() if s.role == "base"}
    busy_bases |= {s.name for s in plan.start_containers if s.role == "base"}

    def add(task: Task, spec: ContainerSpec) -> None:
        if spec.base is not None and spec.base in busy_bases:
            followers.setdefault(spec.base, []).append(task)
        else:
            first.append(task)

    for spec in plan.container_creations():
        fn = partial(ops.create_container, api, spec, topo)
        if spec.role == "base":
            fn = _guarded(fn, spec, failed_networks)  # type: ignore[assignment]
        add(Task("container", spec.name, "create", fn), spec)
    for spec in plan.start_containers:
        add(Task("container", spec.name, "start", partial(ops.start_container, api, spec)), spec)
    for spec in plan.restart_containers:
        fn = partial(ops.restart_container, api, spec.name)
        add(Task("container", spec.name, "restart", fn), spec)
    return first, followers


def execute(
    client: DockerClient,
    plan: Plan,
    *,
    workers: int = DEFAULT_WORKERS,
    progress: ProgressFn | None = None,
    pool: ThreadPoolExecutor | None = None,
) -> ExecuteResult:
    """Apply a plan to Docker; returns every per-object error instead of raising."""
    own_pool = pool is None
    pool = pool or make_pool(workers)
    runner = Runner(pool, total=plan.steps, progress=progress)
    api = client.api
    try:
        removals = plan.container_removals()
        for role_first in (True, False):
            runner.run(
                Task("container", c.name, "remove", partial(ops.remove_observed_container, api, c))
                for c in removals
                if (c.role == "service") == role_first
            )
        runner.run(
            Task("network", n.name, "remove", partial(ops.remove_network, api, n.id))
            for n in plan.network_removals()
        )
        runner.run(
            Task("network", n.name, "create",
                 partial(ops.create_network, api, n, plan.topology_id))
            for n in plan.network_creations()
        )
        failed_networks = {name for kind, name in runner.failed if kind == "network"}
        first, followers = _container_tasks(client, plan, failed_networks)
        runner.run(first, followers)
    finally:
        if own_pool:
            pool.shutdown(wait=True)
    started = [t.name for t in runner.succeeded
               if t.kind == "container" and t.action in ("create", "start", "restart")]
    return ExecuteResult(runner.errors, runner.done, runner.last_start, started)
