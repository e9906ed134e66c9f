"""snmp: net-snmp's snmpget/snmpwalk and pysnmp (v7 asyncio) against the agent, nmap -sU -sV."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pysnmp.hlapi.v3arch.asyncio import (
    CommunityData,
    ContextData,
    ObjectIdentity,
    ObjectType,
    SnmpEngine,
    UdpTransportTarget,
    UsmUserData,
    bulk_walk_cmd,
    get_cmd,
    usmHMACSHAAuthProtocol,
)

from tests.emulators.harness import (
    EMULATORS,
    LocalEmulator,
    local_emulator,
    nmap_service,
    require_tools,
)
from tests.emulators.waiting import events_until

SERVICE = "snmp"
PORTS = ["161/udp"]
CONFIG = {"community": "n0c-r34d"}
PERSONA = {"hostname": "mon01", "kernel": "6.1.0-21-amd64"}
SYS_DESCR = "1.3.6.1.2.1.1.1.0"


def _run(target: LocalEmulator, tool: str, options: list[str],
         oids: list[str]) -> subprocess.CompletedProcess[str]:
    require_tools(tool, packages="snmp")
    address = f"{target.host}:{target.port(161, 'udp')}"
    return subprocess.run([tool, "-On", "-t", "1", "-r", "0", *options, address, *oids],
                          capture_output=True, text=True, timeout=30)


def test_snmpget_reads_the_system_group(target: LocalEmulator) -> None:
    out = _run(target, "snmpget", ["-v2c", "-c", "n0c-r34d"],
               [SYS_DESCR, "1.3.6.1.2.1.1.2.0", "1.3.6.1.2.1.1.5.0"]).stdout
    # the persona's Debian kernel (6.1.0-21 locally; a deployed decky's comes from its id)
    assert re.search(r'\.1\.3\.6\.1\.2\.1\.1\.1\.0 = STRING: "Linux mon01 6\.1\.0-\d+-amd64 #1 SMP '
                     r'PREEMPT_DYNAMIC Debian 6\.1\.\d+-\d+ \(20\d\d-\d\d-\d\d\) x86_64"', out), out
    assert ".1.3.6.1.2.1.1.2.0 = OID: .1.3.6.1.4.1.8072.3.2.10" in out
    assert '.1.3.6.1.2.1.1.5.0 = STRING: "mon01"' in out
    (query,) = target.events("query", wait=3)
    assert query.fields["community"] == "n0c-r34d" and query.fields["pdu"] == "get"
    assert query.fields["oids"].split()[0] == SYS_DESCR
    assert query.src_ip == target.source


def test_snmpwalk_ends_cleanly_in_v1_and_v2c(target: LocalEmulator) -> None:
    v2 = _run(target, "snmpwalk", ["-v2c", "-c", "n0c-r34d"], ["1.3.6.1"])
    assert v2.returncode == 0, v2.stderr
    lines = v2.stdout.splitlines()
    assert len(lines) > 60
    assert any(line.startswith(".1.3.6.1.2.1.2.2.1.2.2 = STRING: \"eth0\"") for line in lines)
    assert any(line.startswith(".1.3.6.1.2.1.25.1.1.0 = Timeticks:") for line in lines)
    assert "No more variables left in this MIB View" in lines[-1]
    v1 = _run(target, "snmpwalk", ["-v1", "-c", "n0c-r34d"], ["1.3.6.1"])
    assert v1.returncode == 0 and v1.stdout.splitlines()[-1] == "End of MIB"
    assert len(v1.stdout.splitlines()) == len(lines)


def test_wrong_community_gets_no_answer_and_is_recorded(target: LocalEmulator) -> None:
    out = _run(target, "snmpget", ["-v2c", "-c", "public"], [SYS_DESCR])
    assert "Timeout" in out.stderr
    (login,) = target.events("login", wait=3)
    assert login.fields["community"] == "public" and login.fields["success"] == "false"
    assert login.src_ip == target.source


def test_snmpv3_user_is_recorded(target: LocalEmulator) -> None:
    out = _run(target, "snmpget", ["-v3", "-u", "netadmin", "-l", "authNoPriv", "-a", "SHA",
                                   "-A", "Winter2024!"], [SYS_DESCR])
    assert "Unknown user name" in out.stderr
    (login,) = target.events("login", wait=3)
    assert login.fields["username"] == "netadmin" and login.fields["version"] == "3"
    assert login.fields["engine_id"].startswith("80001f8880")
    assert len(login.fields["auth_params"]) == 24  # HMAC-SHA-96
    # crackable offline: the password's localized key reproduces the recorded HMAC
    engine = bytes.fromhex(login.fields["engine_id"])
    master = hashlib.sha1((b"Winter2024!" * (1048576 // 11 + 1))[:1048576]).digest()
    key = hashlib.sha1(master + engine + master).digest()
    message = base64.b64decode(login.fields["message_b64"])
    mac = hmac.new(key, message, hashlib.sha1).digest()[:12]
    assert mac.hex() == login.fields["auth_params"]


def test_pysnmp_get_and_bulk_walk(target: LocalEmulator) -> None:
    async def session() -> tuple[str, list[str], str]:
        engine = SnmpEngine()
        transport = await UdpTransportTarget.create((target.host, target.port(161, "udp")),
                                                    timeout=3, retries=2)
        community = CommunityData("n0c-r34d", mpModel=1)
        error, status, _index, binds = await get_cmd(
            engine, community, transport, ContextData(), ObjectType(ObjectIdentity(SYS_DESCR)))
        assert not error and not status
        walked = []
        async for error, status, _index, row in bulk_walk_cmd(
                engine, community, transport, ContextData(), 0, 10,
                ObjectType(ObjectIdentity("1.3.6.1.2.1.2.2.1.2")), lexicographicMode=False):
            assert not error and not status
            walked += [str(value) for _name, value in row]
        error, _status, _index, _binds = await get_cmd(
            engine, UsmUserData("ops", "Summer2025!", authProtocol=usmHMACSHAAuthProtocol),
            transport, ContextData(), ObjectType(ObjectIdentity(SYS_DESCR)))
        engine.close_dispatcher()
        return str(binds[0][1]), walked, str(error)

    descr, names, v3_error = asyncio.run(session())
    assert descr.startswith("Linux mon01 6.1.0-")  # the kernel is the persona's
    assert names == ["lo", "eth0"]
    assert "unknownUserName" in v3_error or "Unknown" in v3_error
    queries = events_until(target, "query", lambda found: any(
        q.fields["pdu"] == "getbulk" for q in found))
    pdus = [q.fields["pdu"] for q in queries]
    assert "get" in pdus and "getbulk" in pdus
    logins = target.events("login", wait=3)
    assert {e.fields["username"] for e in logins} == {"ops"}  # once per (re)try


def test_nmap_names_net_snmp(target: LocalEmulator) -> None:
    require_tools("nmap", packages="nmap")
    line = nmap_service(target.host, target.port(161, "udp"), udp=True)
    assert "net-snmp" in line, line


@pytest.fixture
def windows_snmp() -> Iterator[LocalEmulator]:
    """A Windows server persona: the Windows SNMP service (v1/v2c only)."""
    yield from local_emulator("snmp", ["161/udp"], persona={
        "hostname": "app02", "os_family": "windows", "kernel": "10.0.17763"})


def test_windows_persona_is_the_windows_snmp_service(windows_snmp: LocalEmulator) -> None:
    out = _run(windows_snmp, "snmpget", ["-v2c", "-c", "public"],
               [SYS_DESCR, "1.3.6.1.2.1.1.2.0", "1.3.6.1.2.1.1.5.0"]).stdout
    assert "Software: Windows Version 6.3 (Build 17763 Multiprocessor Free)" in out
    assert ".1.3.6.1.2.1.1.2.0 = OID: .1.3.6.1.4.1.311.1.1.3.1.2" in out
    assert '"APP02"' in out
    v3 = _run(windows_snmp, "snmpget", ["-v3", "-u", "admin", "-l", "noAuthNoPriv"],
              [SYS_DESCR])
    assert "Timeout" in v3.stderr


def test_interfaces_come_from_the_namespace(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    if str(EMULATORS) not in sys.path:
        sys.path.insert(0, str(EMULATORS))
    from decnet_emu.persona import Persona
    from decnet_emu.protocols._snmp_mib import interfaces

    for name, index, kind, address in (("lo", 1, 772, "00:00:00:00:00:00"),
                                       ("eth0", 57, 1, "02:42:0a:00:05:0e")):
        base = tmp_path / name
        (base / "statistics").mkdir(parents=True)
        for key, value in (("ifindex", index), ("type", kind), ("mtu", 1500),
                           ("address", address)):
            (base / key).write_text(f"{value}\n")
        (base / "statistics" / "rx_bytes").write_text(f"{(1 << 32) + 77}\n")
    monkeypatch.setenv("DECNET_LISTEN", "::")
    rows = interfaces(Persona(hostname="mon01"), str(tmp_path))
    assert [(r.index, r.name, r.kind) for r in rows] == [(1, b"lo", 24), (2, b"eth0", 6)]
    assert rows[1].mac == bytes.fromhex("02420a00050e") and rows[1].speed == 0xFFFFFFFF
    assert rows[1].counter("rx_bytes")() == 77  # Counter32 wraps
    monkeypatch.setenv("DECNET_LISTEN", "127.0.0.1")
    derived = interfaces(Persona(hostname="mon01"), str(tmp_path))  # loopback: not the host's
    assert [r.name for r in derived] == [b"lo", b"eth0"] and derived[1].mac[:3] == b"RT\0"
