"""Run a plan on a bounded thread pool.

Order: remove containers (services, then bases), remove networks, create networks, then
bases (create on the home network with its IP, connect the other LANs with theirs, start),
each base's services as soon as that base is up. Starts and stops of bases hold their
networks (never two at once on one network: see ops.NetworkLocks); everything else runs in
parallel. Errors are collected per object, never raised half-way; the services of a base
that failed are reported as not attempted.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial

from docker import APIClient, DockerClient

from decnet_lib.deploy import ops
from decnet_lib.deploy.failures import ObjectError
from decnet_lib.deploy.observed import ObservedContainer
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


def removal_task(api: APIClient, container: ObservedContainer) -> Task:
    """Stop (holding its networks), then force-remove a labelled container."""
    if not container.networks:
        return Task("container", container.name, "remove",
                    partial(ops.remove_container, api, container.id))
    remove = Task("container", container.name, "remove",
                  partial(ops.delete_container, api, container.id))
    return Task("container", container.name, "remove",
                partial(ops.stop_container, api, container.id, container.networks),
                resources=frozenset(container.networks), then=(remove,), silent=True)


def _networks_of(spec: ContainerSpec) -> frozenset[str]:
    return frozenset(net for net, _ in spec.networks)


def _refuse_missing(spec: ContainerSpec, failed_networks: set[str]) -> None:
    missing = [net for net, _ in spec.networks if net in failed_networks]
    if missing:
        raise RuntimeError(f"not attempted: network {missing[0]} was not created")


def _prepare_base(api: APIClient, spec: ContainerSpec, topology_id: str,
                  failed_networks: set[str]) -> None:
    _refuse_missing(spec, failed_networks)
    ops.prepare_container(api, spec, topology_id)


def container_tasks(api: APIClient, plan: Plan, failed_networks: set[str]) -> list[Task]:
    """Tasks creating/starting the plan's containers; a base's services follow its start.

    Bases come first, round-robin over their home networks (each network's starts are
    serialised, so they should all begin at once), then services of untouched bases.
    """
    topo = plan.topology_id
    service_tasks: dict[str, list[Task]] = {}
    first: list[Task] = []
    busy_bases = {s.name for s in plan.container_creations() if s.role == "base"}
    busy_bases |= {s.name for s in plan.start_containers if s.role == "base"}

    def add_service(task: Task, spec: ContainerSpec) -> None:
        if spec.base in busy_bases:
            service_tasks.setdefault(spec.base or "", []).append(task)
        else:
            first.append(task)

    for spec in plan.container_creations():
        if spec.role == "service":
            add_service(Task("container", spec.name, "create",
                             partial(ops.create_container, api, spec, topo)), spec)
    for spec in plan.start_containers:
        if spec.role == "service":
            add_service(Task("container", spec.name, "start",
                             partial(ops.start_container, api, spec)), spec)
    for spec in plan.restart_containers:
        add_service(Task("container", spec.name, "restart",
                         partial(ops.restart_container, api, spec.name)), spec)

    lanes: dict[str, list[Task]] = {}  # base tasks by home network
    for spec in plan.container_creations():
        if spec.role == "base":
            start = Task("container", spec.name, "create",
                         partial(ops.start_container, api, spec),
                         resources=_networks_of(spec),
                         then=tuple(service_tasks.get(spec.name, ())))
            lanes.setdefault(_home(spec), []).append(
                Task("container", spec.name, "create",
                     partial(_prepare_base, api, spec, topo, failed_networks),
                     then=(start,), silent=True))
    for spec in plan.start_containers:
        if spec.role == "base":
            lanes.setdefault(_home(spec), []).append(
                Task("container", spec.name, "start",
                     partial(ops.start_container, api, spec, True),
                     resources=_networks_of(spec),
                     then=tuple(service_tasks.get(spec.name, ()))))
    return [*_round_robin(list(lanes.values())), *first]


def _home(spec: ContainerSpec) -> str:
    return spec.networks[0][0] if spec.networks else ""


def _round_robin(queues: list[list[Task]]) -> list[Task]:
    """One task of each queue in turn: every network's queue gets going at once."""
    out: list[Task] = []
    for index in range(max((len(queue) for queue in queues), default=0)):
        out.extend(queue[index] for queue in queues if index < len(queue))
    return out


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
    runner = Runner(pool, total=plan.steps, progress=progress, slots=workers)
    api = client.api
    try:
        removals = plan.container_removals()
        for services in (True, False):
            runner.run(removal_task(api, c) for c in removals
                       if (c.role == "service") == services)
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
        runner.run(container_tasks(api, plan, failed_networks))
    finally:
        if own_pool:
            pool.shutdown(wait=True)
    started = [t.name for t in runner.succeeded
               if t.kind == "container" and t.action in ("create", "start", "restart")]
    return ExecuteResult(runner.errors, runner.done, runner.last_start, started)
