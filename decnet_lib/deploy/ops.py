"""Single Docker object operations, idempotent on retry and safe for unlabelled objects.

Create: an object already there with our labels and the same spec hash is adopted; one with
our labels and another hash is removed and recreated; a name held by an object without this
topology's labels is an error naming it, and that object is left alone. Remove: an object
that is already gone is fine.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from docker import APIClient
from docker.errors import APIError, NotFound
from docker.types import IPAMConfig, IPAMPool

from decnet_lib.deploy import labels as L
from decnet_lib.deploy.failures import NameConflict
from decnet_lib.deploy.spec import ContainerSpec, NetworkSpec

CONFLICT = 409
BROKEN_STATES = frozenset({"dead", "removing"})
STOP_TIMEOUT = 2  # seconds; containers run with init=True, so SIGTERM works
ENDPOINT_PATIENCE = 3.0  # seconds to wait for endpoints of just-removed containers


class NetworkLocks:
    """Per-network locks around the calls that add or drop endpoints (start, stop).

    Engine 20.10 (libnetwork) updates a network's endpoint count with a racy
    read-modify-write: concurrent starts or stops of containers on one network can leave
    the count too high, and such a network can then never be removed (until dockerd
    restarts). So a base starts or stops while holding the locks of all its networks
    (taken in name order: no deadlock); different networks, container creation and
    service containers (they have no endpoints) still run in parallel.
    """

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)

    @contextmanager
    def hold(self, networks: Iterable[str]) -> Iterator[None]:
        with self._guard:
            locks = [self._locks[name] for name in sorted(set(networks))]
        with ExitStack() as stack:
            for lock in locks:
                stack.enter_context(lock)
            yield


NETWORK_LOCKS = NetworkLocks()  # process-wide: every Deployer shares it


def _is_conflict(exc: APIError) -> bool:
    return exc.status_code == CONFLICT or "already exists" in str(exc.explanation or "")


def _conflict(kind: str, name: str, found: dict[str, Any]) -> NameConflict:
    return NameConflict(
        f"name taken by {kind} {found.get('Id', '?')[:12]} which is not labelled as this "
        "topology's; it was left alone"
    )


# -- networks ---------------------------------------------------------------------------
def create_network(api: APIClient, spec: NetworkSpec, topology_id: str) -> None:
    """Create a network with its explicit subnet and gateway (or adopt ours)."""
    ipam = IPAMConfig(pool_configs=[IPAMPool(subnet=spec.subnet, gateway=spec.gateway)])
    kwargs: dict[str, Any] = {
        "name": spec.name, "driver": spec.driver, "options": spec.options or None,
        "ipam": ipam, "internal": spec.internal, "labels": spec.labels,
        "check_duplicate": True,  # engines before API 1.44 allow duplicate names otherwise
    }
    try:
        api.create_network(**kwargs)
        return
    except APIError as exc:
        if not _is_conflict(exc):
            raise
    found = api.inspect_network(spec.name)
    labels = found.get("Labels") or {}
    if not L.is_ours(labels, topology_id):
        raise _conflict("network", spec.name, found)
    if labels.get(L.SPEC_HASH) == spec.spec_hash:
        return
    api.remove_network(found["Id"])
    api.create_network(**kwargs)


def remove_network(api: APIClient, network_id: str, patience: float = ENDPOINT_PATIENCE) -> None:
    """Remove a network; gone already is fine.

    "Active endpoints" with no container attached may be endpoints of containers removed
    a moment ago: retry for up to `patience` s. A container still attached (not ours, or
    it would have been removed first) fails at once, naming it.
    """
    delay, deadline = 0.05, time.monotonic() + patience
    while True:
        try:
            api.remove_network(network_id)
            return
        except NotFound:
            return
        except APIError as exc:
            if "active endpoints" not in str(exc.explanation or ""):
                raise
        try:
            attached = api.inspect_network(network_id).get("Containers") or {}
        except NotFound:
            return
        if attached:
            names = sorted(c.get("Name") or cid[:12] for cid, c in attached.items())
            raise RuntimeError(f"still used by container(s) {', '.join(names)}; left in place")
        if time.monotonic() >= deadline:
            raise RuntimeError(
                "the engine still counts an endpoint although no container is attached "
                "(a stale endpoint count; restarting dockerd clears it)"
            )
        time.sleep(delay)
        delay = min(delay * 2, 0.5)


# -- containers -------------------------------------------------------------------------
def _create_kwargs(api: APIClient, spec: ContainerSpec) -> dict[str, Any]:
    host_config = api.create_host_config(
        network_mode=spec.network_mode,
        init=spec.init,
        sysctls=spec.sysctls or None,
        port_bindings={f"{port}/{proto}": (spec.bind_address, port)
                       for port, proto in spec.ports} or None,
        restart_policy={"Name": spec.restart_policy} if spec.restart_policy else None,
        **spec.hardening.host_config(),
    )
    networking = None
    if spec.base is None and spec.networks:
        home, ip = spec.networks[0]
        networking = api.create_networking_config(
            {home: api.create_endpoint_config(ipv4_address=ip)}
        )
    return {
        "image": spec.image, "name": spec.name, "hostname": spec.hostname,
        "environment": spec.environment or None, "labels": spec.labels,
        "ports": [(port, proto) for port, proto in spec.ports] or None,
        "host_config": host_config, "networking_config": networking,
        "user": spec.hardening.user, "detach": True, "use_config_proxy": False,
    }


def _create_or_adopt(
    api: APIClient, spec: ContainerSpec, topology_id: str
) -> tuple[str, set[str]]:
    """Create the container; returns its id and the networks it is already on."""
    kwargs = _create_kwargs(api, spec)
    home = {spec.networks[0][0]} if spec.base is None and spec.networks else set()
    try:
        return api.create_container(**kwargs)["Id"], home
    except APIError as exc:
        if not _is_conflict(exc):
            raise
    found = api.inspect_container(spec.name)
    labels = (found.get("Config") or {}).get("Labels") or {}
    if not L.is_ours(labels, topology_id):
        raise _conflict("container", spec.name, found)
    state = (found.get("State") or {}).get("Status", "")
    networks = set((found.get("NetworkSettings") or {}).get("Networks") or {})
    if labels.get(L.SPEC_HASH) == spec.spec_hash and state not in BROKEN_STATES:
        return found["Id"], networks
    remove_container(api, found["Id"], networks)
    return api.create_container(**kwargs)["Id"], home


def prepare_container(api: APIClient, spec: ContainerSpec, topology_id: str) -> None:
    """Create (or adopt) a container; a base is connected to every other LAN with its IP.

    Connecting a container that is not running only records the endpoint config: the
    endpoints (and their static IPs) come to life at start, all at once.
    """
    container_id, attached = _create_or_adopt(api, spec, topology_id)
    if spec.base is None:
        for network, ip in spec.networks:
            if network not in attached:
                api.connect_container_to_network(container_id, network, ipv4_address=ip)


def start_container(api: APIClient, spec: ContainerSpec, ensure_networks: bool = False) -> None:
    """Start a container (holding its networks' locks); already running is fine.

    `ensure_networks`: first connect a base to any LAN it misses (a half-deployed base).
    """
    if ensure_networks and spec.base is None and len(spec.networks) > 1:
        found = api.inspect_container(spec.name)
        attached = set((found.get("NetworkSettings") or {}).get("Networks") or {})
        for network, ip in spec.networks:
            if network not in attached:
                api.connect_container_to_network(found["Id"], network, ipv4_address=ip)
    with NETWORK_LOCKS.hold(net for net, _ in spec.networks):
        api.start(spec.name)


def create_container(api: APIClient, spec: ContainerSpec, topology_id: str) -> None:
    """Create (or adopt), connect every other LAN with its static IP, then start."""
    prepare_container(api, spec, topology_id)
    start_container(api, spec)


def restart_container(api: APIClient, name: str) -> None:
    api.restart(name, timeout=STOP_TIMEOUT)


def stop_container(api: APIClient, container_id: str, networks: Iterable[str] = ()) -> None:
    """Stop a container holding its networks' locks; not running or gone is fine.

    `stop` returns once the engine released the container's endpoints, so the removal
    that follows no longer touches any network's endpoint count (see NetworkLocks).
    """
    try:
        with NETWORK_LOCKS.hold(networks):
            api.stop(container_id, timeout=STOP_TIMEOUT)
    except APIError:
        pass  # gone, dead or being removed: the forced removal deals with it


def delete_container(api: APIClient, container_id: str) -> None:
    """Force-remove a (stopped) container and its anonymous volumes; gone is fine."""
    try:
        api.remove_container(container_id, force=True, v=True)
    except NotFound:
        pass
    except APIError as exc:  # a removal already under way is fine
        if "already in progress" not in str(exc.explanation or ""):
            raise


def remove_container(api: APIClient, container_id: str, networks: Iterable[str] = ()) -> None:
    """Stop, then force-remove a container; gone is fine."""
    stop_container(api, container_id, networks)
    delete_container(api, container_id)
