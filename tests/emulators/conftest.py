"""Fixtures of the emulator tests.

A protocol's test module declares what it runs at module level and takes `target`:

    SERVICE = "mysql"
    PORTS = ["3306/tcp"]
    CONFIG = {"version": "8.0.36"}      # optional: service_config of that service
    PERSONA = {"os_family": "linux"}    # optional: persona overrides

`target` is that emulator on loopback (a LocalEmulator); the same tests are meant to run
against a deployed decky too (then `target.host` is the decky's address and `target.source`
the host's address on its bridge).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.emulators.harness import LocalEmulator, local_emulator


@pytest.fixture
def target(request: pytest.FixtureRequest) -> Iterator[LocalEmulator]:
    """The module's SERVICE on free loopback ports, stopped after the test."""
    module: Any = request.module
    yield from local_emulator(module.SERVICE, list(module.PORTS),
                              dict(getattr(module, "CONFIG", {}) or {}),
                              dict(getattr(module, "PERSONA", {}) or {}))
