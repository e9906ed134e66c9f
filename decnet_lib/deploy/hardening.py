"""How every container runs: no capabilities beyond what its image needs, no privilege
gain, a read-only root with tmpfs where writing is needed, bounded pids, memory and CPU,
rotated logs, a non-root user where the service allows it (DESIGN.md, "containment").

The needs of each kind of container are listed in PROFILES and nowhere else
(images/README.md quotes this table). Service containers bind their low ports without a
capability: the base container sets `net.ipv4.ip_unprivileged_port_start=0` in the
decky's network namespace, which its services share. To support a new image, add a
profile: `<emulation>` for every service of that emulation, `<emulation>:<service>` for
one service that needs more (the real sshd of a foothold).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

NOBODY = "65534:65534"
ROOT = "0:0"
UNPRIVILEGED_PORTS = "net.ipv4.ip_unprivileged_port_start"
LOG_CONFIG = {"type": "json-file", "config": {"max-size": "10m", "max-file": "3"}}
_SMALL = "rw,noexec,nosuid,nodev"
TMPFS = {"/tmp": f"{_SMALL},size=16m,mode=1777", "/run": f"{_SMALL},size=4m"}
FOOTHOLD_TMPFS = {  # a foothold's home and scratch space: lost when it is recreated
    **TMPFS, "/run": f"{_SMALL},size=8m,mode=755",
    "/home": f"{_SMALL},size=16m,mode=755", "/root": f"{_SMALL},size=4m,mode=700",
    "/var/log": f"{_SMALL},size=4m,mode=755",
}
SSHD_CAPS = ("CHOWN", "SETUID", "SETGID", "SYS_CHROOT", "AUDIT_WRITE")
"""What OpenSSH's sshd needs as root, measured by the emulator's tests
(images/emulators/ssh/README.md): privilege separation and the user's session (SETUID,
SETGID), the pre-auth chroot (SYS_CHROOT), the pty and homes given to the user (CHOWN),
Debian's audit lines on a tty login (AUDIT_WRITE). Not needed: DAC_OVERRIDE, FOWNER, KILL,
and NET_BIND_SERVICE (the base's ip_unprivileged_port_start=0)."""


@dataclass(frozen=True)
class Limits:
    """Resource limits of one container."""

    memory: str
    pids: int
    cpus: float

    def merged(self, overrides: Mapping[str, Any] | None) -> Limits:
        """These limits with a decky's `resources` (memory, pids, cpus) on top."""
        known = {k: v for k, v in (overrides or {}).items()
                 if k in ("memory", "pids", "cpus") and v is not None}
        return replace(self, **known) if known else self


BASE_LIMITS = Limits(memory="32m", pids=32, cpus=0.25)
SERVICE_LIMITS = Limits(memory="128m", pids=128, cpus=0.5)
FOOTHOLD_LIMITS = Limits(memory="256m", pids=256, cpus=0.5)


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


PROFILES: dict[str, Hardening] = {
    # decnet/base: holds the decky's addresses and sleeps; nothing to write, no capability
    "base": Hardening(limits=BASE_LIMITS),
    # decnet/svc-* (busybox emulators) and replacement images: nobody, no capability
    "light": Hardening(),
    # the Python emulators (decnet_emu): nobody, no capability, like the light ones
    "full": Hardening(),
    # the real sshd of a foothold: root for privilege separation, a shell's home on tmpfs
    "full:ssh": Hardening(user=ROOT, cap_add=SSHD_CAPS, tmpfs=dict(FOOTHOLD_TMPFS),
                          limits=FOOTHOLD_LIMITS),
}
"""The needs of each kind of container (see the module docstring for the keys)."""


def profile_key(role: str, service: str | None = None, emulation: str = "light") -> str:
    """The PROFILES key of a base (role "base") or of one service's container."""
    if role == "base":
        return "base"
    specific = f"{emulation}:{service}"
    if specific in PROFILES:
        return specific
    return emulation if emulation in PROFILES else "light"


def hardening_for(role: str, service: str | None = None,
                  resources: Mapping[str, Any] | None = None,
                  emulation: str = "light") -> Hardening:
    """The hardening of a container, with a decky's `resources` over its profile's limits."""
    chosen = PROFILES[profile_key(role, service, emulation)]
    limits = chosen.limits.merged(resources)
    return chosen if limits is chosen.limits else replace(chosen, limits=limits)
