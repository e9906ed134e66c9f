"""dns: dig and dnspython against the emulator's zone, version.bind, AXFR, and nmap -sV."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.reversename
import dns.xfr
import dns.zone
import pytest

from tests.emulators.harness import (
    EMULATORS,
    LocalEmulator,
    local_emulator,
    nmap_service,
    require_tools,
)
from tests.emulators.waiting import events_until

SERVICE = "dns"
PORTS = ["53/udp", "53/tcp"]
PERSONA = {"hostname": "web01", "domain": "acme.internal",
           "versions": {"dns": "9.18.28-1~deb12u2-Debian"}}


def _dig(target: LocalEmulator, *args: str) -> str:
    require_tools("dig", packages="bind9-dnsutils")
    out = subprocess.run(["dig", f"@{target.host}", "-p", str(target.port(53, "udp")), *args],
                         capture_output=True, text=True, timeout=15)
    return out.stdout


def _ask(target: LocalEmulator, name: str, rdtype: str, tcp: bool = False) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype)
    if tcp:
        return dns.query.tcp(query, target.host, port=target.port(53, "tcp"), timeout=5)
    return dns.query.udp(query, target.host, port=target.port(53, "udp"), timeout=5)


def test_dig_answers_the_zone_and_records_queries(target: LocalEmulator) -> None:
    assert _dig(target, "+short", "web01.acme.internal", "A").strip().startswith("10.")
    soa = _dig(target, "+short", "acme.internal", "SOA").split()
    assert soa[:2] == ["ns1.acme.internal.", "hostmaster.acme.internal."]
    assert _dig(target, "+short", "acme.internal", "MX").strip() == "10 mail.acme.internal."
    full = _dig(target, "nosuchhost.acme.internal", "A")
    assert "status: NXDOMAIN" in full and "flags: qr aa rd" in full
    assert "acme.internal.\t\t3600\tIN\tSOA\tns1.acme.internal." in full
    queries = events_until(target, "query", lambda found: len(found) >= 4)
    assert [(q.fields["qname"], q.fields["qtype"]) for q in queries][:4] == [
        ("web01.acme.internal", "A"), ("acme.internal", "SOA"), ("acme.internal", "MX"),
        ("nosuchhost.acme.internal", "A")]
    assert queries[3].fields["rcode"] == "NXDOMAIN"
    assert all(q.src_ip == target.source and q.fields["proto"] == "udp" for q in queries)


def test_dnspython_names_are_consistent(target: LocalEmulator) -> None:
    address = _ask(target, "web01.acme.internal", "A").answer[0][0].address
    ptr = _ask(target, dns.reversename.from_address(address).to_text(), "PTR")
    assert ptr.answer[0][0].target.to_text() == "web01.acme.internal."
    www = _ask(target, "www.acme.internal", "A")
    assert [r.rdtype for r in www.answer] == [dns.rdatatype.CNAME, dns.rdatatype.A]
    aaaa = _ask(target, "web01.acme.internal", "AAAA", tcp=True)
    assert aaaa.answer[0][0].address.startswith("fd")
    nodata = _ask(target, "mail.acme.internal", "TXT")
    assert nodata.rcode() == dns.rcode.NOERROR and not nodata.answer
    assert nodata.authority[0].rdtype == dns.rdatatype.SOA
    again = _ask(target, "web01.acme.internal", "A").answer[0][0].address
    assert again == address


def test_recursion_is_refused(target: LocalEmulator) -> None:
    reply = _ask(target, "www.example.com", "A")
    assert reply.rcode() == dns.rcode.REFUSED and not reply.flags & dns.flags.RA
    (query,) = [q for q in target.events("query", wait=3)
                if q.fields["qname"] == "www.example.com"]
    assert query.fields["rcode"] == "REFUSED" and query.fields["rd"] == "true"


def test_version_bind_like_bind_918(target: LocalEmulator) -> None:
    out = _dig(target, "+short", "version.bind", "CH", "TXT")
    assert out.strip() == '"9.18.28-1~deb12u2-Debian"'


def test_axfr_is_refused_and_recorded(target: LocalEmulator) -> None:
    with pytest.raises(dns.xfr.TransferError):
        dns.zone.from_xfr(dns.query.xfr(target.host, "acme.internal",
                                        port=target.port(53, "tcp"), timeout=5))
    (transfer,) = target.events("transfer", wait=3)
    assert transfer.fields["qname"] == "acme.internal"
    assert transfer.fields["allowed"] == "false" and transfer.src_ip == target.source


def test_nmap_names_bind_over_udp(target: LocalEmulator) -> None:
    require_tools("nmap", packages="nmap")
    line = nmap_service(target.host, target.port(53, "udp"), udp=True)
    assert "ISC BIND 9.18.28" in line, line


def test_nmap_names_bind_over_tcp(target: LocalEmulator) -> None:
    require_tools("nmap", packages="nmap")
    line = nmap_service(target.host, target.port(53, "tcp"))
    assert "ISC BIND 9.18.28" in line, line


@pytest.fixture
def windows_dns() -> Iterator[LocalEmulator]:
    """A domain controller persona: Microsoft DNS."""
    yield from local_emulator("dns", ["53/udp"], persona={
        "hostname": "dc01", "domain": "corp.example", "os_family": "windows",
        "kernel": "10.0.20348", "versions": {"dns": "Microsoft DNS 10.0.20348"}})


def test_windows_persona_is_microsoft_dns(windows_dns: LocalEmulator) -> None:
    assert _dig(windows_dns, "+short", "dc01.corp.example", "A").strip().startswith("10.")
    assert "BIND" not in _dig(windows_dns, "+short", "version.bind", "CH", "TXT")
    srv = _dig(windows_dns, "+short", "_ldap._tcp.dc._msdcs.corp.example", "SRV")
    assert srv.strip() == "0 100 389 dc01.corp.example."
    assert "status: NOERROR" in _dig(windows_dns, "_msdcs.corp.example", "A")
    require_tools("nmap", packages="nmap")
    line = nmap_service(windows_dns.host, windows_dns.port(53, "udp"), udp=True)
    assert "Microsoft DNS 10.0.20348" in line, line


@pytest.fixture
def open_transfers() -> Iterator[LocalEmulator]:
    """A server configured to give its zone to anyone (`axfr: true`)."""
    yield from local_emulator("dns", ["53/tcp"], config={"axfr": True}, persona=PERSONA)


def test_axfr_when_configured(open_transfers: LocalEmulator) -> None:
    zone = dns.zone.from_xfr(dns.query.xfr(open_transfers.host, "acme.internal",
                                           port=open_transfers.port(53), timeout=5))
    names = {name.to_text() for name in zone.nodes}
    assert {"@", "web01", "ns1", "mail", "www"} <= names
    assert zone["www"].rdatasets[0].rdtype == dns.rdatatype.CNAME
    (transfer,) = open_transfers.events("transfer", wait=3)
    assert transfer.fields["allowed"] == "true"


@pytest.mark.local_only  # compares with a local twin of the same persona
def test_records_are_deterministic_per_persona(target: LocalEmulator) -> None:
    def zone_of(emulator: LocalEmulator) -> list[str]:
        return [_ask(emulator, name, rdtype).answer[-1][0].to_text()
                for name, rdtype in (("web01.acme.internal", "A"), ("mail.acme.internal", "A"),
                                     ("web01.acme.internal", "AAAA"), ("acme.internal", "SOA"))]

    mine = zone_of(target)
    for twin in local_emulator("dns", ["53/udp"], persona=PERSONA):
        assert zone_of(twin) == mine
    other = {**PERSONA, "seed_hex": "ab" * 32}
    for stranger in local_emulator("dns", ["53/udp"], persona=other):
        theirs = zone_of(stranger)
        assert theirs[0] != mine[0] and theirs[2] != mine[2]


def test_own_name_follows_the_decky_address() -> None:
    for emulator in local_emulator("dns", ["53/udp"], config={"address": "192.168.7.20"},
                                   persona=PERSONA):
        assert _ask(emulator, "web01.acme.internal", "A").answer[0][0].address == "192.168.7.20"
        ptr = _ask(emulator, "20.7.168.192.in-addr.arpa", "PTR").answer[0][0]
        assert ptr.target.to_text() == "web01.acme.internal."
        mail = _ask(emulator, "mail.acme.internal", "A").answer[0][0].address
        assert mail.startswith("192.168.7.") and mail != "192.168.7.20"


def test_local_address_is_read_from_the_namespace(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    if str(EMULATORS) not in sys.path:
        sys.path.insert(0, str(EMULATORS))
    from decnet_emu.protocols._dns_zone import local_ipv4

    trie = tmp_path / "fib_trie"
    trie.write_text("Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 10.0.5.0\n        /24 link UNICAST\n"
                    "     |-- 10.0.5.14\n        /32 host LOCAL\n     |-- 127.0.0.1\n"
                    "        /32 host LOCAL\n     |-- 10.0.5.255\n        /32 link BROADCAST\n")
    monkeypatch.setenv("DECNET_LISTEN", "::")
    assert local_ipv4(str(trie)) == "10.0.5.14"
    monkeypatch.setenv("DECNET_LISTEN", "127.0.0.1")
    assert local_ipv4(str(trie)) is None
