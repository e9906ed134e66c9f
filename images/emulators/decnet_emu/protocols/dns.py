"""dns: an authoritative name server for the persona's domain, answering like BIND 9.18.

Linux personas look like ISC BIND 9.18 (Debian), Windows personas like Microsoft DNS.

* The zone `<domain>` (config `domain`, else the persona's) holds SOA, NS, MX, TXT (SPF,
  DMARC), the decky's own name (A, AAAA), ns1, mail, www (CNAME), a few hosts derived from
  the persona (A) and, on Windows personas, the AD locator SRV records (_ldap._tcp,
  _kerberos._tcp, ...dc._msdcs); the reverse zone of its /24 answers PTR. The decky's own
  name resolves to its own address (config `address`, else the namespace's first IPv4),
  the other hosts to deterministic addresses of its /24 (config `network` overrides it;
  on loopback both are derived from the persona).
* Unknown names in a zone: NXDOMAIN with the SOA; a name without the type: NODATA with the
  SOA; names outside the zones: REFUSED, recursion is not offered (RA clear).
* `version.bind`/`version.server`/`hostname.bind`/`id.server` CH TXT as BIND answers them
  (config `version` overrides the persona's BIND version).
* AXFR/IXFR (TCP): refused, unless config `axfr` is true (then the whole zone is sent).
* EDNS: OPT with a 1232-byte UDP size and a server COOKIE like BIND.

Events: `query` (qname, qtype, qclass, rcode, rd) for every query, `transfer` (qname,
qtype, allowed) for every zone transfer attempt, `data` for what is not DNS.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import os
import struct
import time
from dataclasses import dataclass
from typing import Any

from decnet_emu.persona import Persona
from decnet_emu.protocols import _dns_wire as wire
from decnet_emu.protocols._dns_wire import Query, Record
from decnet_emu.session import Datagram, Session

DEFAULT_BIND = "9.18.28-1~deb12u2-Debian"
TTL = 3600
MAX_TCP_MESSAGE = 65535
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
    versions = persona.extra.get("versions") if isinstance(persona.extra, dict) else None
    found = versions.get("dns") if isinstance(versions, dict) else None
    if isinstance(found, str) and found:
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


# -- answering ---------------------------------------------------------------------------
def _flags(query: Query, rcode: int, aa: bool = False, tc: bool = False) -> int:
    flags = 0x8000 | (query.opcode << 11) | (query.flags & 0x0100) | (query.flags & 0x0010)
    return flags | (0x0400 if aa else 0) | (0x0200 if tc else 0) | rcode


def _opt(server: Server, query: Query, source: str) -> bytes | None:
    if not query.edns:
        return None
    if not query.cookie or server.windows:
        return b""
    stamp = int(time.time()).to_bytes(4, "big")
    head = b"\x01\0\0\0" + stamp
    mac = hashlib.sha256(server.secret + query.cookie + head + source.encode()).digest()[:8]
    body = query.cookie + head + mac
    return struct.pack(">HH", 10, len(body)) + body


def _chaos(server: Server, query: Query) -> tuple[int, list[Record], list[Record]]:
    name = query.qname.lower()
    texts = {"version.bind": server.version, "version.server": server.version,
             "hostname.bind": server.hostname, "id.server": server.hostname}
    if name not in texts or query.qtype not in (wire.TXT, wire.ANY):
        return wire.REFUSED, [], []
    if server.windows:  # Microsoft DNS answers version.bind only, in class IN
        if name != "version.bind":
            return wire.REFUSED, [], []
        return wire.NOERROR, [Record(name, wire.TXT, 0, [server.version], wire.IN)], []
    answer = [Record(name, wire.TXT, 0, [texts[name]], wire.CH)]
    return wire.NOERROR, answer, [Record(name, wire.NS, 0, name, wire.CH)]


def _lookup(zone: Zone, name: str, qtype: int,
            rd: bool) -> tuple[int, list[Record], list[Record], list[Record]]:
    """rcode, answer, authority, additional for a name inside `zone` (the NS records in the
    authority section only for non-recursive queries, like BIND's no-auth-recursive)."""
    answer: list[Record] = []
    seen = 0
    while seen < 8:
        seen += 1
        group = zone.records.get(name)
        if group is None:
            if answer:
                break
            if any(owner.endswith("." + name) for owner in zone.records):
                return wire.NOERROR, [], [zone.soa], []  # an empty non-terminal
            return wire.NXDOMAIN, [], [zone.soa], []
        found = [r for r in group if qtype == wire.ANY or r.rtype == qtype]
        cname = [r for r in group if r.rtype == wire.CNAME]
        if found or not cname or qtype == wire.CNAME:
            answer += found
            break
        answer += cname
        name = str(cname[0].data).lower()
        if not zone.contains(name):
            break
    if not answer:
        return wire.NOERROR, [], [zone.soa], []
    additional: list[Record] = []
    targets = {wire.MX: 1, wire.SRV: 3}
    if qtype in (wire.MX, wire.NS, wire.SRV):
        for record in answer:
            target = str(record.data[targets[record.rtype]] if record.rtype in targets
                         else record.data).lower()
            additional += [r for r in zone.records.get(target, [])
                           if r.rtype in (wire.A, wire.AAAA)]
    authority = [] if qtype in (wire.NS, wire.ANY) or rd else \
        [r for r in zone.records[zone.origin] if r.rtype == wire.NS]
    if authority:
        for record in authority:
            additional += [r for r in zone.records.get(str(record.data).lower(), [])
                           if r.rtype in (wire.A, wire.AAAA) and r not in additional]
    return wire.NOERROR, answer, authority, additional


def answer(server: Server, query: Query, source: str, tcp: bool) -> tuple[bytes, int]:
    """The reply to one query and its rcode."""
    opt = _opt(server, query, source)
    if query.opcode != 0:
        return wire.reply(query, _flags(query, wire.NOTIMP), [], [], [], opt), wire.NOTIMP
    if query.qdcount != 1 or not query.question:
        return wire.reply(query, _flags(query, wire.FORMERR), [], [], [], opt), wire.FORMERR
    if query.qclass == wire.CH:
        rcode, ans, auth = _chaos(server, query)
        return wire.reply(query, _flags(query, rcode, aa=bool(ans)), ans, auth, [], opt), rcode
    name = query.qname.lower().rstrip(".")
    zone = server.zone_for(name)
    if zone is None or query.qclass not in (wire.IN, 255):
        return wire.reply(query, _flags(query, wire.REFUSED), [], [], [], opt), wire.REFUSED
    rcode, ans, auth, add = _lookup(zone, name, query.qtype, query.rd)
    message = wire.reply(query, _flags(query, rcode, aa=True), ans, auth, add, opt)
    limit = MAX_TCP_MESSAGE if tcp else (min(query.edns_size, 1232) if query.edns else 512)
    if len(message) > limit:
        message = wire.reply(query, _flags(query, rcode, aa=True, tc=True), [], [], [], opt)
    return message, rcode


def _record_query(target: Session | Datagram, query: Query, rcode: int) -> None:
    target.event("query", qname=query.qname or ".", qtype=wire.type_name(query.qtype),
                 qclass=wire.class_name(query.qclass), rcode=wire.RCODE_NAMES.get(rcode),
                 rd=query.rd, id=query.id)


def datagram(dgram: Datagram, data: bytes) -> bytes | None:
    """One UDP query: answered and recorded (responses and garbage are recorded, unanswered)."""
    try:
        query = wire.parse_query(data)
    except ValueError:
        dgram.event("data", bytes=len(data), data=data[:256])
        return None
    if query.is_response:
        dgram.event("data", bytes=len(data), data=data[:256])
        return None
    server = server_for(dgram.persona, dgram.config)
    if query.qtype in (wire.AXFR, wire.IXFR):
        dgram.event("transfer", qname=query.qname, qtype=wire.type_name(query.qtype),
                    allowed=False)
        _record_query(dgram, query, wire.FORMERR)
        return wire.header_only(query, _flags(query, wire.FORMERR))
    message, rcode = answer(server, query, dgram.src_ip, tcp=False)
    _record_query(dgram, query, rcode)
    return message


def _transfer(server: Server, query: Query) -> list[bytes]:
    """The AXFR messages of a zone: SOA, every record, SOA."""
    zone = server.zone_for(query.qname.lower())
    if zone is None or zone.origin != query.qname.lower().rstrip("."):
        return []
    body = [r for r in zone.all_records() if r is not zone.soa]
    flags = _flags(query, wire.NOERROR, aa=True)
    return [wire.reply(query, flags, [zone.soa, *body, zone.soa], [], [])]


async def handle(session: Session) -> None:
    """DNS over TCP: length-prefixed queries until the client closes."""
    server = server_for(session.persona, session.config)
    while True:
        try:
            head = await session.read_exactly(2)
        except asyncio.IncompleteReadError:
            return
        size = int.from_bytes(head, "big")
        data = await session.read_exactly(size) if size else b""
        try:
            query = wire.parse_query(data)
        except ValueError:
            session.event("data", bytes=len(data), data=(head + data)[:256])
            return
        if query.qtype in (wire.AXFR, wire.IXFR) and query.qclass != wire.CH:
            messages = _transfer(server, query) if server.axfr else []
            session.event("transfer", qname=query.qname, qtype=wire.type_name(query.qtype),
                          allowed=bool(messages))
            rcode = wire.NOERROR if messages else wire.REFUSED
            _record_query(session, query, rcode)
            if not messages:
                messages = [wire.header_only(query, _flags(query, wire.REFUSED))]
            for message in messages:
                await session.send(len(message).to_bytes(2, "big") + message)
            continue
        message, rcode = answer(server, query, session.src_ip, tcp=True)
        _record_query(session, query, rcode)
        await session.send(len(message).to_bytes(2, "big") + message)
