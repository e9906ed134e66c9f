"""Archetypes: named bundles of services that make a decky look like a kind of host."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Archetype:
    """A kind of host and the services it adds to a decky."""

    name: str
    services: tuple[str, ...]
    description: str


_ALL = [
    Archetype("linux-server", ("ssh",), "Generic Linux server"),
    Archetype("web-server", ("ssh", "http", "https"), "Public web server"),
    Archetype("database-server", ("ssh", "mysql", "postgres", "redis"), "Database host"),
    Archetype("mail-server", ("ssh", "smtp", "dns"), "Mail relay"),
    Archetype("file-server", ("ssh", "ftp", "smb"), "File server"),
    Archetype("windows-workstation", ("smb", "rdp"), "Windows desktop"),
    Archetype("windows-server", ("smb", "rdp", "mssql"), "Windows server"),
    Archetype("domain-controller", ("dns", "ldap", "smb", "rdp"), "Active Directory DC"),
    Archetype("printer", ("http", "snmp"), "Network printer"),
    Archetype("iot-device", ("telnet", "http", "mqtt"), "Embedded IoT device"),
    Archetype("industrial-control", ("telnet", "http", "snmp"), "PLC / HMI"),
    Archetype("voip-server", ("sip", "http"), "VoIP PBX"),
    Archetype("monitoring-node", ("ssh", "http", "snmp", "elasticsearch"), "Monitoring host"),
    Archetype("devops-host", ("ssh", "docker_api", "k8s", "http"), "CI / container host"),
    Archetype("deaddeck", (), "Host with no services: silent, only holds addresses"),
]

ARCHETYPES: dict[str, Archetype] = {archetype.name: archetype for archetype in _ALL}
