"""DNS wire format (RFC 1035): bounded parsing of queries, replies with name compression.

Parsing never trusts a length or a pointer: every read is checked against the message,
compression pointers may only point backwards and a name has at most 255 bytes; malformed
input raises ValueError.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field

A, NS, CNAME, SOA, PTR, HINFO, MX, TXT, AAAA, SRV, OPT = 1, 2, 5, 6, 12, 13, 15, 16, 28, 33, 41
IXFR, AXFR, ANY = 251, 252, 255
IN, CH = 1, 3
NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED = 0, 1, 2, 3, 4, 5

TYPE_NAMES = {A: "A", NS: "NS", CNAME: "CNAME", SOA: "SOA", PTR: "PTR", HINFO: "HINFO",
              MX: "MX", TXT: "TXT", AAAA: "AAAA", SRV: "SRV", OPT: "OPT", 43: "DS",
              46: "RRSIG", 48: "DNSKEY", 64: "SVCB", 65: "HTTPS", 99: "SPF", 252: "AXFR",
              251: "IXFR", 255: "ANY", 257: "CAA"}
CLASS_NAMES = {IN: "IN", CH: "CH", 4: "HS", 254: "NONE", 255: "ANY"}
RCODE_NAMES = {NOERROR: "NOERROR", FORMERR: "FORMERR", SERVFAIL: "SERVFAIL",
               NXDOMAIN: "NXDOMAIN", NOTIMP: "NOTIMP", REFUSED: "REFUSED"}


def type_name(qtype: int) -> str:
    return TYPE_NAMES.get(qtype, f"TYPE{qtype}")


def class_name(qclass: int) -> str:
    return CLASS_NAMES.get(qclass, f"CLASS{qclass}")


@dataclass
class Query:
    """The parts of a request a server answers from."""

    id: int
    flags: int
    qname: str = ""  # as sent (case kept), without the trailing dot
    qtype: int = 0
    qclass: int = 0
    qdcount: int = 0
    edns: bool = False
    edns_size: int = 512
    cookie: bytes = b""  # the client cookie (8 bytes) of an EDNS COOKIE option
    question: bytes = b""  # the raw question section, echoed in the reply

    @property
    def opcode(self) -> int:
        return (self.flags >> 11) & 0xF

    @property
    def rd(self) -> bool:
        return bool(self.flags & 0x0100)

    @property
    def is_response(self) -> bool:
        return bool(self.flags & 0x8000)


def read_name(data: bytes, pos: int) -> tuple[str, int]:
    """(name, position after it) of the name at `pos`, following compression pointers."""
    labels: list[str] = []
    end = -1
    size = 0
    hops = 0
    while True:
        if pos >= len(data):
            raise ValueError("name past the end")
        count = data[pos]
        if count & 0xC0 == 0xC0:
            if pos + 1 >= len(data):
                raise ValueError("truncated pointer")
            target = ((count & 0x3F) << 8) | data[pos + 1]
            if end < 0:
                end = pos + 2
            if target >= pos or hops > 32:
                raise ValueError("bad compression pointer")
            hops += 1
            pos = target
            continue
        if count & 0xC0:
            raise ValueError("unknown label type")
        pos += 1
        if count == 0:
            break
        if pos + count > len(data):
            raise ValueError("label past the end")
        size += count + 1
        if size > 255:
            raise ValueError("name too long")
        labels.append(data[pos:pos + count].decode("latin-1"))
        pos += count
    return ".".join(labels), (end if end >= 0 else pos)


def parse_query(data: bytes) -> Query:
    """The header, the first question and the EDNS OPT record of a request."""
    if len(data) < 12:
        raise ValueError("short header")
    ident, flags, qdcount, ancount, nscount, arcount = struct.unpack(">6H", data[:12])
    query = Query(ident, flags, qdcount=qdcount)
    pos = 12
    if qdcount >= 1:
        query.qname, pos = read_name(data, 12)
        if pos + 4 > len(data):
            raise ValueError("truncated question")
        query.qtype, query.qclass = struct.unpack(">HH", data[pos:pos + 4])
        pos += 4
        query.question = data[12:pos]
        if qdcount > 1 or ancount or nscount > 1:
            return query  # the rest is not read: the server answers FORMERR or ignores it
        for _ in range(nscount + min(arcount, 4)):
            name, pos = read_name(data, pos)
            if pos + 10 > len(data):
                raise ValueError("truncated record")
            rtype, rclass, _ttl, rdlen = struct.unpack(">HHIH", data[pos:pos + 10])
            rdata = data[pos + 10:pos + 10 + rdlen]
            pos += 10 + rdlen
            if rtype == OPT and not name:
                query.edns = True
                query.edns_size = max(512, rclass)
                query.cookie = _client_cookie(rdata)
    return query


def _client_cookie(rdata: bytes) -> bytes:
    pos = 0
    while pos + 4 <= len(rdata):
        code, size = struct.unpack(">HH", rdata[pos:pos + 4])
        if code == 10 and 8 <= size <= 40:
            return rdata[pos + 4:pos + 4 + 8]
        pos += 4 + size
    return b""


@dataclass(frozen=True)
class Record:
    """One resource record; `data` by type: a name (NS, CNAME, PTR), (preference, name) for
    MX, (priority, weight, port, target) for SRV, (mname, rname, serial, refresh, retry,
    expire, minimum) for SOA, a list of strings for TXT, an address text for A/AAAA."""

    name: str
    rtype: int
    ttl: int
    data: object
    rclass: int = IN


@dataclass
class Writer:
    """A reply message with name compression."""

    buf: bytearray = field(default_factory=bytearray)
    offsets: dict[str, int] = field(default_factory=dict)

    def name(self, name: str, compress: bool = True) -> None:
        labels = [label for label in name.strip(".").split(".") if label]
        for i in range(len(labels)):
            suffix = ".".join(labels[i:]).lower()
            if compress and suffix in self.offsets:
                self.buf += struct.pack(">H", 0xC000 | self.offsets[suffix])
                return
            if len(self.buf) < 0x3FFF:
                self.offsets.setdefault(suffix, len(self.buf))
            raw = labels[i].encode("latin-1")[:63]
            self.buf += bytes([len(raw)]) + raw
        self.buf += b"\0"

    def record(self, record: Record) -> None:
        self.name(record.name)
        self.buf += struct.pack(">HHI", record.rtype, record.rclass, record.ttl)
        start = len(self.buf)
        self.buf += b"\0\0"
        self._rdata(record)
        struct.pack_into(">H", self.buf, start, len(self.buf) - start - 2)

    def _rdata(self, record: Record) -> None:
        data = record.data
        if record.rtype in (NS, CNAME, PTR):
            self.name(str(data))
        elif record.rtype == MX:
            preference, exchange = data  # type: ignore[misc]
            self.buf += struct.pack(">H", preference)
            self.name(exchange)
        elif record.rtype == SOA:
            mname, rname, *numbers = data  # type: ignore[misc]
            self.name(mname)
            self.name(rname)
            self.buf += struct.pack(">5I", *numbers)
        elif record.rtype == SRV:
            priority, weight, port, target = data  # type: ignore[misc]
            self.buf += struct.pack(">HHH", priority, weight, port)
            self.name(target, compress=False)
        elif record.rtype == TXT:
            for text in data:  # type: ignore[attr-defined]
                raw = str(text).encode()[:255]
                self.buf += bytes([len(raw)]) + raw
        elif record.rtype in (A, AAAA):
            self.buf += ipaddress.ip_address(str(data)).packed
        else:
            self.buf += bytes(data)  # type: ignore[call-overload]


def reply(query: Query, flags: int, answer: list[Record], authority: list[Record],
          additional: list[Record], opt: bytes | None = None) -> bytes:
    """A response to `query` echoing its question; `opt` is the OPT record's rdata."""
    writer = Writer()
    counts = (1 if query.question else 0, len(answer), len(authority),
              len(additional) + (opt is not None))
    writer.buf += struct.pack(">6H", query.id, flags, *counts)
    if query.question:
        writer.buf += query.question
    pos = 12
    for suffix in _question_suffixes(query.question):  # later names may point into it
        writer.offsets.setdefault(suffix, pos)
        pos += 1 + len(suffix.split(".", 1)[0].encode("latin-1"))
    for record in (*answer, *authority, *additional):
        writer.record(record)
    if opt is not None:
        writer.buf += b"\0" + struct.pack(">HHIH", OPT, 1232, 0, len(opt)) + opt
    return bytes(writer.buf)


def _question_suffixes(question: bytes) -> list[str]:
    """Every suffix of the question's name (lower-case), when it has no pointers and no
    dots inside labels; else none (then nothing points into the question)."""
    labels: list[str] = []
    pos = 0
    while pos < len(question) and question[pos]:
        size = question[pos]
        label = question[pos + 1:pos + 1 + size].decode("latin-1")
        if size & 0xC0 or "." in label or len(label) != size:
            return []
        labels.append(label.lower())
        pos += 1 + size
    return [".".join(labels[i:]) for i in range(len(labels))]


def header_only(query: Query, flags: int) -> bytes:
    """A reply with the question echoed and nothing else (errors)."""
    return reply(query, flags, [], [], [])
