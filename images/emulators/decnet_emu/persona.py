"""A decky's persona: one believable host across its services, derived deterministically.

The deployer passes DECNET_PERSONA (JSON, computed on the master from the topology id, the
decky name and its archetype); without it a persona is derived from DECNET_DECKY alone. A
service's `service_config` may override domain, os_name, kernel and its own
`version` (`Persona.overridden`, applied by decnet_emu.config for that service).
Key material (TLS certificate, host keys) comes from `seed`, so two deckies never share it
and a recreated decky keeps its identity.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

LINUX = "linux"
WINDOWS = "windows"
# service_config keys over a persona (not hostname: it names the decky in every event)
OVERRIDABLE = ("domain", "os_name", "kernel")


@dataclass(frozen=True)
class Persona:
    """Who this host claims to be."""

    hostname: str = "host"
    domain: str = "corp.internal"
    os_family: str = LINUX  # linux | windows
    os_name: str = "Debian GNU/Linux 12 (bookworm)"
    kernel: str = "6.1.0-18-amd64"
    seed_hex: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def fqdn(self) -> str:
        return f"{self.hostname}.{self.domain}" if self.domain else self.hostname

    @property
    def is_windows(self) -> bool:
        return self.os_family == WINDOWS

    @property
    def seed(self) -> bytes:
        return bytes.fromhex(self.seed_hex) if self.seed_hex else \
            hashlib.sha256(f"decnet-persona/{self.hostname}".encode()).digest()

    def derive(self, label: str, length: int = 32) -> bytes:
        """Deterministic bytes for one purpose (a key, a salt, a GUID) of this persona."""
        out = b""
        counter = 0
        while len(out) < length:
            out += hashlib.sha256(self.seed + label.encode() + counter.to_bytes(4, "big")).digest()
            counter += 1
        return out[:length]

    def number(self, label: str, modulo: int) -> int:
        """A deterministic number in [0, modulo) for this persona."""
        return int.from_bytes(self.derive(label, 8), "big") % modulo

    def version(self, service: str, default: str = "") -> str:
        """The version string the master gave this persona for `service` (from its archetype's
        OS, e.g. "Apache/2.4.62 (Debian)" or "Microsoft-IIS/10.0"), else `default`."""
        versions = self.extra.get("versions")
        value = versions.get(service) if isinstance(versions, dict) else None
        return value if isinstance(value, str) and value else default

    def overridden(self, service: str, config: Mapping[str, Any]) -> Persona:
        """This persona with a service's `service_config` over it: `domain`, `os_name`,
        `kernel` (non-empty strings) and `version` (that service's version)."""
        changes = {key: config[key] for key in OVERRIDABLE
                   if isinstance(config.get(key), str) and config[key]}
        version = config.get("version")
        if isinstance(version, str) and version and service:
            versions = self.extra.get("versions")
            versions = dict(versions) if isinstance(versions, dict) else {}
            versions[service] = version
            changes["extra"] = {**self.extra, "versions": versions}
        return replace(self, **changes) if changes else self

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> Persona:
        raw = env.get("DECNET_PERSONA", "")
        data: dict[str, Any] = {}
        if raw:
            try:
                loaded = json.loads(raw)
                data = loaded if isinstance(loaded, dict) else {}
            except ValueError:
                data = {}
        known = {k: v for k, v in data.items()
                 if k in {"hostname", "domain", "os_family", "os_name", "kernel", "seed_hex"}
                 and isinstance(v, str)}
        extra = {k: v for k, v in data.items() if k not in known}
        known.setdefault("hostname", env.get("DECNET_DECKY", "") or "host")
        return cls(**known, extra=extra)
