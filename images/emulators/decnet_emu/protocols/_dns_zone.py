"""The zones a dns decky serves, built deterministically from its persona and config.

The forward zone `<domain>` (SOA, NS, MX, SPF/DMARC TXT, the decky's own A/AAAA, ns1, mail,
www CNAME, a few derived hosts, AD locator SRV records on Windows personas) and the reverse
zone of its /24. The decky's own address is config `address`, else its network namespace's
first IPv4 (`/proc/net/fib_trie`) when listening on every address, else derived.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
from dataclasses import dataclass
from typing import Any

from decnet_emu.persona import Persona
from decnet_emu.protocols import _dns_wire as wire
from decnet_emu.protocols._dns_wire import Record

DEFAULT_BIND = "9.18.28-1~deb12u2-Debian"
TTL = 3600
OTHER_HOSTS = ("dc01", "fs01", "vpn", "intranet", "git", "jenkins", "backup", "printer01",
               "db01", "wiki", "nas", "proxy", "mon", "ci", "files", "erp")


@dataclass
class Zone:
    """One authoritative zone: its origin, SOA and records by (lower-case) owner name."""

    origin: str
    soa: Record
    records: dict[str, list[Record]]

    def contains(self, name: str) -> bool:
        return name == self.origin or name.endswith("." + self.origin)

    def all_records(self) -> list[Record]:
        return [record for group in self.records.values() for record in group]


@dataclass
class Server:
    """What the server knows: its zones, version string and transfer policy."""

    zones: list[Zone]
    version: str
    hostname: str
    windows: bool
    axfr: bool
    secret: bytes

    def zone_for(self, name: str) -> Zone | None:
        matches = [zone for zone in self.zones if zone.contains(name)]
        return max(matches, key=lambda zone: len(zone.origin)) if matches else None


def local_ipv4(fib_trie: str = "/proc/net/fib_trie") -> str | None:
    """This network namespace's first IPv4 address that is not loopback (the decky's own),
    when the emulator listens on every address; None on loopback or when unknown."""
    listen = os.environ.get("DECNET_LISTEN", "::")
    if listen not in ("", "::", "0.0.0.0"):
        with contextlib.suppress(ValueError):
            address = ipaddress.ip_address(listen)
            if address.version == 4 and not address.is_loopback:
                return str(address)
        return None
    try:
        with open(fib_trie, encoding="ascii") as stream:
            lines = stream.read().splitlines()
    except OSError:
        return None
    found: set[ipaddress.IPv4Address] = set()
    current = ""
    for line in lines:
        text = line.strip()
        if text.startswith("|-- "):
            current = text[4:]
        elif text.startswith("/32 host LOCAL") and current:
            with contextlib.suppress(ValueError):
                address = ipaddress.IPv4Address(current)
                if not address.is_loopback:
                    found.add(address)
    return str(min(found)) if found else None


def _network(persona: Persona, config: dict[str, Any],
             own: str | None) -> ipaddress.IPv4Network:
    raw = config.get("network")
    if raw:
        with contextlib.suppress(ValueError):
            return ipaddress.IPv4Network(str(raw), strict=False)
    if own:
        return ipaddress.IPv4Network(f"{own}/24", strict=False)
    second = 1 + persona.number("dns-net-b", 250)
    third = 1 + persona.number("dns-net-c", 250)
    return ipaddress.IPv4Network(f"10.{second}.{third}.0/24")


def _version(persona: Persona, config: dict[str, Any]) -> str:
    if config.get("version"):
        return str(config["version"])
    found = persona.version("dns")
    if found:
        if found.startswith("Microsoft DNS"):
            return f"{found} ({persona.derive('dns-build', 4).hex().upper()})"
        return found
    return DEFAULT_BIND


def build_server(persona: Persona, config: dict[str, Any]) -> Server:
    """The zones of this persona (deterministic: the same persona gives the same records)."""
    origin = str(config.get("domain") or persona.domain or "corp.internal").strip(".").lower()
    known: str | None = None
    with contextlib.suppress(ValueError):
        known = str(ipaddress.IPv4Address(str(config.get("address") or local_ipv4() or "")))
    net = _network(persona, config, known)
    hosts = list(net.hosts())
    me = persona.hostname.lower()
    own = known or str(hosts[(10 + persona.number(f"dns-host/{me}", 200)) % len(hosts)])
    used = {own}

    def address(label: str) -> str:
        index = (10 + persona.number(f"dns-host/{label}", 200)) % len(hosts)
        for _ in range(len(hosts)):
            if str(hosts[index]) not in used:
                break
            index = (index + 1) % len(hosts)
        used.add(str(hosts[index]))
        return str(hosts[index])

    prefix = persona.derive("dns-ula", 7).hex()
    ula = ipaddress.IPv6Network(
        f"fd{prefix[:2]}:{prefix[2:6]}:{prefix[6:10]}:{prefix[10:14]}::/64")
    addresses: dict[str, str] = {me: own, "ns1": own if me.startswith("ns") else address("ns1"),
                                 "mail": address("mail")}
    picks = sorted(OTHER_HOSTS, key=lambda name: persona.derive(f"dns-pick/{name}", 4))[:4]
    for name in picks:
        addresses.setdefault(name, address(name))
    records: dict[str, list[Record]] = {}

    def add(owner: str, rtype: int, data: object, ttl: int = TTL) -> None:
        name = f"{owner}.{origin}" if owner else origin
        records.setdefault(name, []).append(Record(name, rtype, ttl, data))

    year = 2024 + persona.number("dns-serial-y", 2)
    serial = int(f"{year}{1 + persona.number('dns-serial-m', 12):02d}"
                 f"{1 + persona.number('dns-serial-d', 28):02d}"
                 f"{persona.number('dns-serial-n', 10):02d}")
    soa = Record(origin, wire.SOA, TTL, (f"ns1.{origin}", f"hostmaster.{origin}", serial,
                                         604800, 86400, 2419200, 86400))
    records[origin] = [soa]
    add("", wire.NS, f"ns1.{origin}")
    add("", wire.MX, (10, f"mail.{origin}"))
    add("", wire.TXT, ["v=spf1 mx -all"])
    add("", wire.A, own)
    for name, ip in addresses.items():
        add(name, wire.A, ip)
    add(me, wire.AAAA, str(ula.network_address + persona.number("dns-aaaa", 1 << 32) + 1))
    add("www", wire.CNAME, f"{me}.{origin}")
    add("_dmarc", wire.TXT, [f"v=DMARC1; p=quarantine; rua=mailto:postmaster@{origin}"])
    if persona.is_windows:  # an AD domain's locator records, pointing at this DC
        for service, port in (("_ldap._tcp", 389), ("_kerberos._tcp", 88),
                              ("_kerberos._udp", 88), ("_kpasswd._tcp", 464),
                              ("_gc._tcp", 3268), ("_ldap._tcp.dc._msdcs", 389),
                              ("_kerberos._tcp.dc._msdcs", 88)):
            add(service, wire.SRV, (0, 100, port, f"{me}.{origin}"), 600)
    zones = [Zone(origin, soa, records)]

    reverse = ".".join(reversed(str(net.network_address).split(".")[:3])) + ".in-addr.arpa"
    rsoa = Record(reverse, wire.SOA, TTL, (f"ns1.{origin}", f"hostmaster.{origin}", serial,
                                           604800, 86400, 2419200, 86400))
    rrecords: dict[str, list[Record]] = {reverse: [rsoa, Record(reverse, wire.NS, TTL,
                                                                f"ns1.{origin}")]}
    for name, ip in addresses.items():
        owner = f"{ip.rsplit('.', 1)[1]}.{reverse}"
        if ipaddress.IPv4Address(ip) in net and owner not in rrecords:
            rrecords[owner] = [Record(owner, wire.PTR, TTL, f"{name}.{origin}")]
    zones.append(Zone(reverse, rsoa, rrecords))
    return Server(zones, _version(persona, config), persona.hostname, persona.is_windows,
                  str(config.get("axfr", "")).lower() == "true" or config.get("axfr") is True,
                  persona.derive("dns-cookie", 16))


_SERVERS: dict[tuple[int, int], Server] = {}


def server_for(persona: Persona, config: dict[str, Any]) -> Server:
    """The Server of this persona and config, built once per process."""
    key = (id(persona), id(config))
    if key not in _SERVERS:
        _SERVERS[key] = build_server(persona, config)
    return _SERVERS[key]
