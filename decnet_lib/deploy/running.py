"""Ask the local Docker Engine what runs, without ever changing anything."""

from __future__ import annotations

from pathlib import Path

from decnet_lib.deploy.labels import topology_filter
from decnet_lib.errors import DecnetError
from decnet_lib.settings import get_settings

DEFAULT_SOCKET = Path("/var/run/docker.sock")


class DockerUnavailable(DecnetError):
    code = "DOCKER_UNAVAILABLE"


def docker_configured() -> bool:
    """True when a Docker Engine may be reachable (DOCKER_HOST set or the socket exists)."""
    return bool(get_settings().docker_host) or DEFAULT_SOCKET.exists()


def running_containers(topology_id: str) -> list[str]:
    """Names of this topology's running containers, found by label.

    With no Docker Engine on this host there is nothing running; an engine that is
    configured but does not answer is an error (we cannot prove nothing runs).
    """
    if not docker_configured():
        return []
    try:
        import docker
        from docker.errors import DockerException
    except ImportError:
        return []
    try:
        client = docker.from_env(timeout=10)
        try:
            containers = client.containers.list(filters=topology_filter(topology_id))
        finally:
            client.close()
    except DockerException as exc:
        raise DockerUnavailable(f"cannot ask Docker what runs: {exc}") from None
    return sorted(container.name for container in containers)
