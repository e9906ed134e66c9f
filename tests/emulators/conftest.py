"""Fixtures of the emulator tests.

A protocol's test module declares what it runs at module level and takes `target`:

    SERVICE = "mysql"
    PORTS = ["3306/tcp"]
    CONFIG = {"version": "8.0.36"}      # optional: service_config of that service
    PERSONA = {"os_family": "linux"}    # optional: persona overrides

Every test taking `target` runs twice:

* `[local]`: the emulator as a process on free loopback ports (a LocalEmulator, fresh per
  test; `target.source` is 127.0.0.1);
* `[deployed]`: one real decky per module, deployed like `decnet topology deploy` does
  (harness.deploy_decky: SERVICE with CONFIG as its service_config, PERSONA's hostname,
  domain and Windows-ness as the decky's name, domain and archetype), on the catalog's
  ports; `target.host` is the decky's DMZ address, `target.source` the host's address on
  that bridge, and `target.events()` reads the service container's log from the start of
  the test on. Marked `slow`; needs Docker (skipped without, failed under CI=true).
  `DECNET_EMU_TARGETS=local` (or `deployed`) runs one mode only.

A second configuration of the same service (a Windows persona, say) gets the same two modes
from harness.target_fixtures.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.emulators.harness import (
    DeployedEmulator,
    LocalEmulator,
    deployed_emulator,
    local_emulator,
    target_params,
)


def _module_settings(module: Any) -> tuple[str, list[str], dict[str, Any], dict[str, Any]]:
    return (module.SERVICE, list(module.PORTS), dict(getattr(module, "CONFIG", {}) or {}),
            dict(getattr(module, "PERSONA", {}) or {}))


@pytest.fixture(scope="module")
def deployed_service(request: pytest.FixtureRequest) -> Iterator[DeployedEmulator]:
    """The module's SERVICE in one deployed decky, ready (listening), for the module."""
    yield from deployed_emulator(*_module_settings(request.module))


@pytest.fixture(params=target_params())
def target(request: pytest.FixtureRequest) -> Iterator[LocalEmulator | DeployedEmulator]:
    """The module's SERVICE: on loopback (fresh per test) or in the module's deployed decky
    (seeing only the events written during this test)."""
    if request.param == "deployed":
        deployed: DeployedEmulator = request.getfixturevalue("deployed_service")
        yield deployed.view()
        return
    yield from local_emulator(*_module_settings(request.module))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `local_only` check values of the persona the test itself gives the
    emulator (a deployed decky's persona comes from its topology): their [deployed] case is
    deselected, not skipped."""
    keep, drop = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        deployed = callspec is not None and "deployed" in callspec.id.split("-")
        (drop if deployed and item.get_closest_marker("local_only") else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
