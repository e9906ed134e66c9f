"""One process at a time per topology on this Docker host (an advisory file lock).

Two processes applying or tearing down the same topology at once (a reconciler pushing a
mutation while a playbook deploys, say) would race for the same names, and on Docker
Engine 20.10 parallel endpoint changes on one network can leave it unremovable. The
deployer therefore holds `<runtime dir>/locks/<topology>.lock` (flock) while it changes a
topology's objects. The lock goes with the process: a crash never leaves it held.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from decnet_lib.deploy.failures import DeployError
from decnet_lib.settings import get_settings

LOCK_TIMEOUT = 600.0  # seconds to wait for another process's apply or teardown
_POLL = 0.05


def lock_directory() -> Path:
    """Where the topology locks live: DECNET_LOCK_DIR, else <runtime dir>/locks."""
    return get_settings().lock_dir


def lock_path(topology_id: str, directory: Path | None = None) -> Path:
    """The lock file of one topology (a digest of its id: any id is a safe file name)."""
    digest = hashlib.sha256(topology_id.encode()).hexdigest()[:32]
    return (directory or lock_directory()) / f"{digest}.lock"


@contextmanager
def topology_lock(
    topology_id: str, directory: Path | None = None, timeout: float = LOCK_TIMEOUT,
) -> Iterator[None]:
    """Hold the host-wide lock of one topology's Docker objects; DeployError after `timeout`."""
    path = lock_path(topology_id, directory)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise DeployError(f"cannot open the deploy lock {path}: {exc.strerror or exc}") from None
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise DeployError(
                        f"another process has been changing topology {topology_id[:8]} on "
                        f"this Docker host for {timeout:g}s (lock {path})"
                    ) from None
                time.sleep(_POLL)
        yield
    finally:
        os.close(fd)  # releases the lock
