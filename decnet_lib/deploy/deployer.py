"""The Docker deployer facade: plan, apply (execute + verify), teardown, reap, inventory.

    with Deployer() as deployer:
        result = deployer.apply(resolved, progress=print_progress)
        if not result.ok: ...   # result.errors (per object) and result.crashed

Docker being unreachable raises DeployError (one line); everything that goes wrong with
single objects is collected in the result instead.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal

import docker
import requests
from docker import DockerClient
from docker.constants import DEFAULT_MAX_POOL_SIZE
from docker.errors import DockerException

from decnet_lib.deploy import containment_steps as contain
from decnet_lib.deploy import labels as L
from decnet_lib.deploy.containment import Firewall
from decnet_lib.deploy.execute import execute
from decnet_lib.deploy.failures import DeployError, ObjectError, one_line
from decnet_lib.deploy.host_lock import LOCK_TIMEOUT, topology_lock
from decnet_lib.deploy.host_routes import check_host_routes
from decnet_lib.deploy.naming import BASE_IMAGE
from decnet_lib.deploy.observed import Inventory, inventory, local_image_ids, observe
from decnet_lib.deploy.plan import Plan, diff
from decnet_lib.deploy.pool import DEFAULT_WORKERS, ProgressFn
from decnet_lib.deploy.spec import DesiredState, desired_state
from decnet_lib.deploy.teardown import ReapResult, TeardownResult, reap_orphans, teardown
from decnet_lib.deploy.verify import DEFAULT_SETTLE, Crash, verify
from decnet_lib.settings import get_settings
from decnet_lib.topology.resolved import ResolvedTopology

Outcome = Literal["active", "degraded", "failed"]
DOCKER_TIMEOUT = 120  # seconds per Docker API call


@dataclass
class ApplyResult:
    """The plan that was run, per-object errors and crashed containers."""

    plan: Plan
    errors: list[ObjectError] = field(default_factory=list)
    crashed: list[Crash] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and not self.crashed

    @property
    def status(self) -> Outcome:
        """The status an apply earns (one rule for this machine and the agents): failed
        when an object could not be made, degraded when only containers crashed."""
        if self.errors:
            return "failed"
        return "degraded" if self.crashed else "active"

    def message(self) -> str:
        """One line: what happened."""
        if self.ok:
            return "applied" if self.plan.changed else "up to date: nothing to change"
        parts = [str(e) for e in self.errors] + [str(c) for c in self.crashed]
        return f"{len(parts)} problem(s): " + "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "plan": self.plan.to_dict(),
                "errors": [e.to_dict() for e in self.errors],
                "crashed": [c.to_dict() for c in self.crashed]}


@contextlib.contextmanager
def docker_errors(what: str) -> Iterator[None]:
    """Turn Docker/transport failures of a whole operation into one-line DeployErrors."""
    try:
        yield
    except (DockerException, requests.RequestException) as exc:
        raise DeployError(f"{what}: {one_line(exc)}") from None


def connect(workers: int = DEFAULT_WORKERS) -> DockerClient:
    """A client for the local engine (DOCKER_HOST or the socket), checked with a ping."""
    with docker_errors("cannot reach Docker"):
        client = docker.from_env(
            timeout=DOCKER_TIMEOUT, max_pool_size=max(DEFAULT_MAX_POOL_SIZE, workers + 2)
        )
        client.ping()
        return client


class Deployer:
    """Makes Docker match a resolved topology, and undoes it, from labels."""

    def __init__(
        self,
        client: DockerClient | None = None,
        base_image: str = BASE_IMAGE,
        workers: int = DEFAULT_WORKERS,
        settle: float = DEFAULT_SETTLE,
        lock_timeout: float = LOCK_TIMEOUT,
        containment: bool | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.containment = get_settings().containment if containment is None else containment
        self.firewall = Firewall()
        self._client = client
        self._own_client = client is None
        self.base_image = base_image
        self.workers = workers
        self.settle = settle
        self.lock_timeout = lock_timeout

    @property
    def client(self) -> DockerClient:
        if self._client is None:
            self._client = connect(self.workers)
        return self._client

    def close(self) -> None:
        if self._own_client and self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> Deployer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def desired(self, resolved: ResolvedTopology) -> DesiredState:
        """The networks and containers the topology needs (no Docker call)."""
        return desired_state(resolved, self.base_image)

    def plan(self, resolved: ResolvedTopology) -> Plan:
        """Desired state against what Docker has for this topology id (changes nothing)."""
        desired = self.desired(resolved)
        with docker_errors("cannot read Docker state"):
            found = observe(self.client, resolved.id)
            images = local_image_ids(self.client,
                                     (spec.image for spec in desired.containers.values()))
        plan = diff(desired, found, images)
        if self.containment:  # the host's rules are part of what a deploy changes
            pending = self.firewall.pending(resolved.id, contain.subnets(resolved))
            plan = dataclasses.replace(plan, firewall=pending)
        return plan

    def apply(self, resolved: ResolvedTopology, progress: ProgressFn | None = None) -> ApplyResult:
        """Plan, execute on the pool, then check every container of the topology runs.

        Holds the topology's host-wide lock (host_lock): other processes wait.
        """
        with topology_lock(resolved.id, timeout=self.lock_timeout):
            plan = self.plan(resolved)
            self._check_new_subnets(resolved.id, plan)
            around = (contain.AroundDeploy(self.firewall, self.client, resolved, plan)
                      if self.containment else None)
            if around is not None:  # before any container of the topology starts
                around.before()
            result = ApplyResult(plan)
            since = None
            if plan.changed:
                done = execute(self.client, plan, workers=self.workers, progress=progress)
                result.errors = done.errors
                since = done.last_start
            if around is not None:
                with docker_errors("cannot inspect base containers"):
                    around.after(execute_failed=bool(result.errors))
            with docker_errors("cannot check containers"):
                result.crashed = verify(self.client, resolved.id, since=since,
                                        settle=self.settle)
        return result

    def _rules_possible(self) -> bool:
        """Containment on (iptables must work), or off on a host that has iptables (rules
        of an earlier deploy may be left): then teardown and the reaper remove rules."""
        return self.containment or self.firewall.available()

    def _check_new_subnets(self, topology_id: str, plan: Plan) -> None:
        """Networks about to be created must not overlap the host's own routes (the routes
        of this topology's existing bridges are ours)."""
        creations = plan.network_creations()
        if not creations:
            return
        with docker_errors("cannot list Docker networks"):
            ours = {f"br-{net['Id'][:12]}" for net in
                    self.client.api.networks(filters=L.topology_filter(topology_id))}
        check_host_routes((spec.subnet for spec in creations), ours)

    def teardown(self, topology_id: str, progress: ProgressFn | None = None) -> TeardownResult:
        """Remove every container then network labelled with this topology id (holding the
        topology's host-wide lock)."""
        with topology_lock(topology_id, timeout=self.lock_timeout):
            with docker_errors("cannot tear down"):
                result = teardown(self.client, topology_id, workers=self.workers,
                                  progress=progress)
            if result.ok and self._rules_possible():  # the rules go after the last container
                self.firewall.remove(topology_id)
            return result

    def reap_orphans(
        self,
        keep_topology_ids: Collection[str],
        *,
        within: Collection[str] | None = None,
        dry_run: bool = False,
    ) -> ReapResult:
        """Tear down managed objects of topologies not in `keep_topology_ids`."""
        with docker_errors("cannot reap orphans"):
            result = reap_orphans(self.client, keep_topology_ids, within=within,
                                  dry_run=dry_run, workers=self.workers)
        if not dry_run and self._rules_possible():  # rules of topologies without containers
            with docker_errors("cannot reap orphan rules"):
                contain.reap_rules(self.firewall, self.client, keep_topology_ids, within)
        return result

    def inventory(self, topology_id: str) -> Inventory:
        """What Docker really has for this topology: names, states, ids."""
        with docker_errors("cannot list Docker objects"):
            return inventory(self.client, topology_id)

