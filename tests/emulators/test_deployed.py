"""The full emulators deployed for real: one DMZ decky with every catalog service.

Deployed once for this module (`deployed_decky`, harness.deploy_decky) through the same
path as `decnet topology deploy` and torn down afterwards. (Each protocol's own tests also
run against a deployed decky of their service: the `[deployed]` cases of `target`.)
From the host, every service is reached on the decky's address: each TCP port gives a
`connect` event, each UDP port a `datagram` (or protocol) event for a real query, all with
the host's bridge address as the source. Needs Docker (skipped without, failed under
CI=true).
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator

import pytest

from decnet_lib.catalog import SERVICES
from tests.emulators.harness import DeployedDecky, deploy_decky

pytestmark = pytest.mark.slow

DNS_QUERY = (b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
             b"\x03www\x04corp\x08internal\x00\x00\x01\x00\x01")
# SNMPv2c GetRequest, community "public", OID 1.3.6.1.2.1.1.1.0 (sysDescr)
SNMP_GET = bytes.fromhex(
    "302902010104067075626c6963a01c02040000162a020100020100300e300c06082b060102010101000500")
SIP_OPTIONS = (b"OPTIONS sip:emu@decky SIP/2.0\r\n"
               b"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-emu-test\r\n"
               b"Max-Forwards: 70\r\nFrom: <sip:probe@test>;tag=1\r\nTo: <sip:emu@decky>\r\n"
               b"Call-ID: emu-test-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")
UDP_QUERIES = {"dns": DNS_QUERY, "snmp": SNMP_GET, "sip": SIP_OPTIONS}


def _tcp_touch(host: str, port: int, ready_within: float = 30.0) -> None:
    """Connect (retrying while the service is still starting: sshd makes its persona's
    host keys first), read what the server says first (at most 1 s), close."""
    deadline = time.monotonic() + ready_within
    while True:
        try:
            sock = socket.create_connection((host, port), timeout=5)
            break
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)
    with sock:
        sock.settimeout(1)
        with contextlib.suppress(OSError):
            sock.recv(4096)


def _udp_query(host: str, port: int, payload: bytes) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _ in range(3):  # the first datagram may be lost while ARP resolves
            sock.sendto(payload, (host, port))
            time.sleep(0.2)


@pytest.fixture(scope="module")
def deployed_decky() -> Iterator[DeployedDecky]:
    """One DMZ decky with every catalog service, full emulation."""
    yield from deploy_decky()


@pytest.mark.parametrize("service", list(SERVICES))
def test_every_port_records_the_host_as_source(deployed_decky: DeployedDecky,
                                               service: str) -> None:
    emulator = deployed_decky.emulator(service)
    for port in SERVICES[service].ports:
        if port.protocol == "udp":
            _udp_query(emulator.host, port.number, UDP_QUERIES[service])
        else:
            _tcp_touch(emulator.host, emulator.port(port.number))
    for port in SERVICES[service].ports:
        deadline = time.monotonic() + 15
        while True:
            mine = [e for e in emulator.events()
                    if e.dst_port == port.number and (e.protocol or "tcp") == port.protocol]
            wanted = [e for e in mine if e.event == "connect"] if port.protocol == "tcp" else mine
            if wanted or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert wanted, (service, str(port), [e.event for e in emulator.events()],
                        emulator.stderr()[-800:])
        assert all(e.src_ip == deployed_decky.host_bridge_ip for e in wanted), wanted
        assert all(e.fields.get("decky") == deployed_decky.decky for e in wanted), wanted
