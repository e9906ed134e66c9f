"""dns: an authoritative name server for the persona's domain, answering like BIND 9.18.

Linux personas look like ISC BIND 9.18 (Debian), Windows personas like Microsoft DNS.

* The zone `<domain>` (config `domain`, else the persona's; built in `_dns_zone`) holds
  SOA, NS, MX, TXT (SPF, DMARC), the decky's own name (A, AAAA), ns1, mail, www (CNAME), a
  few hosts derived from the persona (A) and, on Windows personas, the AD locator SRV
  records (_ldap._tcp, _kerberos._tcp, ...dc._msdcs); the reverse zone of its /24 answers
  PTR. The decky's own name resolves to its own address (config `address`, else the
  namespace's first IPv4), the other hosts to deterministic addresses of its /24 (config
  `network` overrides it; on loopback both are derived from the persona).
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
import hashlib
import struct
import time

from decnet_emu.protocols import _dns_wire as wire
from decnet_emu.protocols._dns_wire import Query, Record
from decnet_emu.protocols._dns_zone import Server, Zone, server_for
from decnet_emu.session import Datagram, Session

MAX_TCP_MESSAGE = 65535


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
