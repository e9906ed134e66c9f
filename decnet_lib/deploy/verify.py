"""After an apply: check that every container of the topology runs (a crash is reported).

`compose up` reported success while containers crashed at boot; here a container that is
not running a short, bounded while after the last start is returned with its exit code and
its last log line.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from docker import DockerClient
from docker.errors import DockerException

from decnet_lib.deploy.failures import one_line
from decnet_lib.deploy.observed import ObservedContainer, observe

DEFAULT_SETTLE = 0.5  # seconds a container must survive after the last start (crash at boot)
MAX_SETTLE = 10.0


@dataclass(frozen=True)
class Crash:
    """A container of the topology that is not running."""

    name: str
    state: str
    exit_code: int | None = None
    last_log: str = ""
    error: str = ""

    def __str__(self) -> str:
        code = f" (exit {self.exit_code})" if self.exit_code is not None else ""
        detail = self.error or self.last_log or "no output"
        return f"container {self.name} is {self.state}{code}: {detail}"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "state": self.state, "exit_code": self.exit_code,
                "last_log": self.last_log, "error": self.error}


def last_log_line(client: DockerClient, container_id: str, tail: int = 20) -> str:
    """The last non-empty line the container wrote (stdout or stderr), or ''."""
    try:
        raw = client.api.logs(container_id, stdout=True, stderr=True, tail=tail)
    except DockerException:
        return ""
    text = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def describe(client: DockerClient, container: ObservedContainer) -> Crash:
    """Exit code, engine error and last log line of a container that is not running."""
    try:
        state = client.api.inspect_container(container.id).get("State") or {}
    except DockerException as exc:
        return Crash(container.name, container.state or "missing", error=one_line(exc))
    return Crash(
        name=container.name,
        state=state.get("Status", container.state),
        exit_code=state.get("ExitCode"),
        last_log=last_log_line(client, container.id),
        error=(state.get("Error") or "").strip(),
    )


def verify(
    client: DockerClient,
    topology_id: str,
    *,
    since: float | None = None,
    settle: float = DEFAULT_SETTLE,
) -> list[Crash]:
    """Containers of the topology that are not running, once `settle` s after `since`.

    `since` is a `time.monotonic()` value (the last container start); None checks now.
    The wait is bounded by MAX_SETTLE.
    """
    if since is not None:
        delay = min(since + max(settle, 0.0) - time.monotonic(), MAX_SETTLE)
        if delay > 0:
            time.sleep(delay)
    containers = observe(client, topology_id).containers
    return [describe(client, c) for c in containers if not c.running]
