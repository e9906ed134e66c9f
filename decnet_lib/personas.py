"""Personas: who a decky claims to be, computed on the master (pure and deterministic).

One persona per decky, from the topology id, the decky's name and its archetype: hostname,
domain, OS family, OS name, kernel (or Windows build), a seed for key material (host keys,
TLS certificates) and per-service version hints that agree with that OS. The same inputs
always give the same persona; two deckies never share a seed. Service containers receive
it as DECNET_PERSONA (compact JSON, see `decnet_lib.deploy.service_env`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

WINDOWS_ARCHETYPES = frozenset({"windows-workstation", "windows-server", "domain-controller"})
OVERRIDABLE = ("hostname", "domain", "os_name", "kernel")


@dataclass(frozen=True, slots=True)
class _Os:
    """One operating system a persona can claim, with what its services announce."""

    family: str
    name: str
    kernels: tuple[str, ...]
    versions: Mapping[str, str]


DEBIAN_12 = _Os(
    "linux", "Debian GNU/Linux 12 (bookworm)",
    ("6.1.0-18-amd64", "6.1.0-21-amd64", "6.1.0-23-amd64", "6.1.0-25-amd64", "6.1.0-28-amd64"),
    {
        "ssh": "OpenSSH_9.2p1 Debian-2+deb12u3",
        "telnet": "Debian GNU/Linux 12",
        "http": "Apache/2.4.62 (Debian)",
        "https": "Apache/2.4.62 (Debian)",
        "ftp": "vsFTPd 3.0.3",
        "smtp": "Postfix (Debian/GNU)",
        "smb": "Samba 4.17.12-Debian",
        "vnc": "RFB 003.008",
        "mysql": "10.11.6-MariaDB-0+deb12u1",
        "postgres": "15.8 (Debian 15.8-0+deb12u1)",
        "mongodb": "7.0.14",
        "redis": "7.0.15",
        "elasticsearch": "8.15.1",
        "ldap": "OpenLDAP 2.5.13",
        "dns": "9.18.28-1~deb12u2-Debian",
        "snmp": "net-snmp 5.9.3",
        "sip": "Asterisk PBX 20.9.3",
        "mqtt": "mosquitto 2.0.11",
        "docker_api": "26.1.5+dfsg1",
        "k8s": "v1.30.4",
        "rdp": "xrdp 0.9.21.1",
        "mssql": "",
    },
)


def _windows(name: str, build: str, sql: str) -> _Os:
    return _Os("windows", name, (build,), {
        "smb": f"{name} {build.rsplit('.', 1)[-1]}",
        "rdp": f"Microsoft Terminal Services {build}",
        "mssql": sql,
        "http": "Microsoft-IIS/10.0",
        "https": "Microsoft-IIS/10.0",
        "ftp": "Microsoft FTP Service",
        "smtp": "Microsoft ESMTP MAIL Service",
        "ldap": "Active Directory",
        "dns": f"Microsoft DNS {build}",
        "snmp": f"Microsoft Windows SNMP agent {build}",
        "ssh": "OpenSSH_for_Windows_8.1",
        "vnc": "RFB 003.008",
    })


WINDOWS = {
    "windows-workstation": _windows("Windows 10 Pro", "10.0.19045", ""),
    "windows-server": _windows("Windows Server 2019 Standard", "10.0.17763", "15.0.2000.5"),
    "domain-controller": _windows("Windows Server 2022 Standard", "10.0.20348", "16.0.1000.6"),
}


def seed_hex(topology_id: str, decky: str) -> str:
    """The persona seed: SHA-256 of `<topology id>/<decky name>` (unique per decky)."""
    return hashlib.sha256(f"{topology_id}/{decky}".encode()).hexdigest()


def operating_system(archetype: str | None) -> _Os:
    """The OS an archetype implies: Windows for the Windows archetypes, else Debian 12."""
    return WINDOWS.get(archetype or "", DEBIAN_12)


def persona(
    topology_id: str,
    topology_name: str,
    decky: str,
    archetype: str | None = None,
    domain: str | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The persona of one decky as a JSON-ready dict.

    `domain` defaults to `<topology name>.internal`; `overrides` may replace hostname,
    domain, os_name, kernel and single entries of `versions`.
    """
    system = operating_system(archetype)
    seed = seed_hex(topology_id, decky)
    kernel = system.kernels[int(seed[:8], 16) % len(system.kernels)]
    result: dict[str, Any] = {
        "hostname": decky,
        "domain": domain or f"{topology_name}.internal",
        "os_family": system.family,
        "os_name": system.name,
        "kernel": kernel,
        "seed_hex": seed,
        "archetype": archetype or "",
        "versions": {k: v for k, v in system.versions.items() if v},
    }
    for key in OVERRIDABLE:
        value = (overrides or {}).get(key)
        if isinstance(value, str) and value:
            result[key] = value
    versions = (overrides or {}).get("versions")
    if isinstance(versions, Mapping):
        result["versions"].update({str(k): str(v) for k, v in versions.items()})
    return result
