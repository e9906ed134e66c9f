"""How every container runs: no capabilities beyond what its image needs, no privilege
gain, a read-only root with tmpfs where writing is needed, bounded pids, memory and CPU,
rotated logs, a non-root user where the service allows it (DESIGN.md, "containment").

The needs of each kind of container are listed here and nowhere else (images/README.md
quotes this table). Service containers bind their low ports without a capability: the
base container sets `net.ipv4.ip_unprivileged_port_start=0` in the decky's network
namespace, which its services share.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

NOBODY = "65534:65534"
UNPRIVILEGED_PORTS = "net.ipv4.ip_unprivileged_port_start"
LOG_CONFIG = {"type": "json-file", "config": {"max-size": "10m", "max-file": "3"}}
TMPFS = {"/tmp": "rw,noexec,nosuid,size=16m,mode=1777", "/run": "rw,noexec,nosuid,size=4m"}


@dataclass(frozen=True)
class Limits:
    """Resource limits of one container."""

    memory: str
    pids: int
    cpus: float


BASE_LIMITS = Limits(memory="32m", pids=32, cpus=0.25)
SERVICE_LIMITS = Limits(memory="128m", pids=128, cpus=0.5)


@dataclass(frozen=True)
class Hardening:
    """The security and resource options of one container."""

    user: str | None = NOBODY
    cap_add: tuple[str, ...] = ()
    read_only: bool = True
    tmpfs: dict[str, str] = field(default_factory=lambda: dict(TMPFS))
    limits: Limits = SERVICE_LIMITS

    def fields(self) -> dict[str, Any]:
        """What the spec hash covers (a change recreates the container)."""
        return {"user": self.user, "cap_add": list(self.cap_add), "read_only": self.read_only,
                "tmpfs": self.tmpfs, "memory": self.limits.memory, "pids": self.limits.pids,
                "cpus": self.limits.cpus, "log": LOG_CONFIG, "cap_drop": "ALL",
                "no_new_privileges": True}

    def host_config(self) -> dict[str, Any]:
        """Keyword arguments for the SDK's create_host_config."""
        return {"cap_drop": ["ALL"], "cap_add": list(self.cap_add) or None,
                "security_opt": ["no-new-privileges:true"], "read_only": self.read_only,
                "tmpfs": self.tmpfs, "pids_limit": self.limits.pids,
                "mem_limit": self.limits.memory, "nano_cpus": int(self.limits.cpus * 1e9),
                "log_config": LOG_CONFIG}


NEEDS: dict[str, Hardening] = {
    # role "base": holds the addresses, sleeps; nothing to write, no capability
    "base": Hardening(limits=BASE_LIMITS),
    # every emulator of the catalog: ports bind without a capability (see above)
    "service": Hardening(),
}
"""The needs of each kind of container; a service that needs more gets its own entry
(its catalog name as the key)."""


def hardening_for(role: str, service: str | None = None,
                  limits: Limits | None = None) -> Hardening:
    """The hardening of a base (role "base") or of one service's container."""
    chosen = NEEDS.get(service or "", NEEDS[role] if role in NEEDS else NEEDS["service"])
    if limits is None:
        return chosen
    return Hardening(chosen.user, chosen.cap_add, chosen.read_only, chosen.tmpfs, limits)
