"""The Deployer, created lazily on first use (the agent touches no Docker object at boot)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from decnet_lib.deploy.deployer import ApplyResult
from decnet_lib.deploy.observed import Inventory
from decnet_lib.deploy.teardown import TeardownResult
from decnet_lib.topology.resolved import ResolvedTopology

if TYPE_CHECKING:
    from decnet_lib.settings import Settings


class DeployerLike(Protocol):
    """What the agent needs of `decnet_lib.deploy.deployer.Deployer`."""

    def apply(self, resolved: ResolvedTopology) -> ApplyResult: ...
    def teardown(self, topology_id: str) -> TeardownResult: ...
    def inventory(self, topology_id: str) -> Inventory: ...
    def close(self) -> None: ...


DeployerFactory = Callable[[], DeployerLike]


def default_factory(containment: bool | None = None) -> DeployerLike:
    """A Deployer on the local engine (it connects on its first Docker call)."""
    from decnet_lib.deploy.deployer import Deployer

    return Deployer(containment=containment)


def settings_factory(settings: Settings) -> DeployerFactory:
    """Deployers that follow these settings (containment on or off)."""
    return lambda: default_factory(settings.containment)


class DeployerProvider:
    """Calls the factory once, on the first request that needs Docker."""

    def __init__(self, factory: DeployerFactory | None = None) -> None:
        self._factory = factory or default_factory
        self._deployer: DeployerLike | None = None
        self._lock = threading.Lock()

    @property
    def created(self) -> bool:
        return self._deployer is not None

    def get(self) -> DeployerLike:
        with self._lock:
            if self._deployer is None:
                self._deployer = self._factory()
            return self._deployer

    def close(self) -> None:
        with self._lock:
            deployer, self._deployer = self._deployer, None
        if deployer is not None:
            deployer.close()
