"""The MIB a net-snmp 5.9 agent on a Debian host (or a Windows SNMP service) shows.

system (with sysORTable), interfaces (the namespace's own from /sys/class/net, or lo and a
derived eth0), a few ip scalars and hrSystem / hrMemorySize, in OID order, from the persona
and config. Values that change (uptimes, counters, the date) are computed when asked.
"""

from __future__ import annotations

import bisect
import dataclasses
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from decnet_emu.persona import Persona

INTEGER, OCTETS, NULL, OID = 0x02, 0x04, 0x05, 0x06
IPADDRESS, COUNTER32, GAUGE32, TIMETICKS, COUNTER64 = 0x40, 0x41, 0x42, 0x43, 0x46

Oid = tuple[int, ...]
Value = tuple[int, Any]  # (BER tag, int | bytes | dotted OID text)

NET_SNMP_OBJECT_ID = "1.3.6.1.4.1.8072.3.2.10"
DEBIAN_KERNELS = {  # the uname -v of Debian 12 kernels, as net-snmp puts it in sysDescr
    "6.1.0-18-amd64": "6.1.76-1 (2024-02-01)", "6.1.0-21-amd64": "6.1.90-1 (2024-05-03)",
    "6.1.0-23-amd64": "6.1.99-1 (2024-07-15)", "6.1.0-25-amd64": "6.1.106-3 (2024-08-26)",
    "6.1.0-28-amd64": "6.1.119-1 (2024-11-22)",
}
SYS_OR = (  # net-snmp 5.9's sysORTable
    ("1.3.6.1.6.3.10.3.1.1", "The SNMP Management Architecture MIB."),
    ("1.3.6.1.6.3.11.3.1.1", "The MIB for Message Processing and Dispatching."),
    ("1.3.6.1.6.3.15.2.1.1",
     "The management information definitions for the SNMP User-based Security Model."),
    ("1.3.6.1.6.3.1", "The MIB module for SNMPv2 entities"),
    ("1.3.6.1.6.3.16.2.2.1", "View-based Access Control Model for SNMP."),
    ("1.3.6.1.2.1.49", "The MIB module for managing TCP implementations"),
    ("1.3.6.1.2.1.4", "The MIB module for managing IP and ICMP implementations"),
    ("1.3.6.1.2.1.50", "The MIB module for managing UDP implementations"),
    ("1.3.6.1.6.3.13.3.1.3", "The MIB modules for managing SNMP Notification, plus filtering."),
    ("1.3.6.1.2.1.92", "The MIB module for logging SNMP Notifications."),
)


def parse_oid(text: str) -> Oid:
    return tuple(int(part) for part in text.strip(".").split("."))


@dataclass
class Mib:
    """Sorted OIDs with a getter each; `get`, `next_after` answer the PDUs."""

    oids: list[Oid]
    getters: dict[Oid, Callable[[], Value]]

    def get(self, oid: Oid) -> Value | None:
        getter = self.getters.get(oid)
        return getter() if getter else None

    def next_after(self, oid: Oid) -> tuple[Oid, Value] | None:
        index = bisect.bisect_right(self.oids, oid)
        if index >= len(self.oids):
            return None
        found = self.oids[index]
        return found, self.getters[found]()

    def has_object(self, oid: Oid) -> bool:
        """Whether `oid` names an object type this agent knows (for noSuchInstance)."""
        return any(known[:len(oid) - 1] == oid[:-1] for known in self.oids if len(known) > 1)


def sys_descr(persona: Persona, config: dict[str, Any]) -> str:
    if config.get("sys_descr"):
        return str(config["sys_descr"])
    if persona.is_windows:
        build = persona.kernel.rsplit(".", 1)[-1] if persona.kernel[:1].isdigit() else "17763"
        return ("Hardware: Intel64 Family 6 Model 85 Stepping 7 AT/AT COMPATIBLE - Software: "
                f"Windows Version 6.3 (Build {build} Multiprocessor Free)")
    release = DEBIAN_KERNELS.get(persona.kernel, "6.1.76-1 (2024-02-01)")
    return (f"Linux {persona.hostname} {persona.kernel} #1 SMP PREEMPT_DYNAMIC Debian "
            f"{release} x86_64")


def build(persona: Persona, config: dict[str, Any], started: float | None = None) -> Mib:
    """The MIB of this persona; uptimes count from `started` (the agent's start)."""
    started = time.time() if started is None else started
    boot = started - 3600 * (2 + persona.number("snmp-boot", 24 * 60))  # host up 2h..60d
    getters: dict[Oid, Callable[[], Value]] = {}

    def put(dotted: str, tag: int, value: Any) -> None:
        getters[parse_oid(dotted)] = (lambda: (tag, value())) if callable(value) else \
            (lambda: (tag, value))

    def ticks(since: float) -> Callable[[], int]:
        return lambda: int((time.time() - since) * 100) & 0xFFFFFFFF

    def counter(label: str, rate: int) -> Callable[[], int]:
        base = persona.number(label, 1 << 31)
        return lambda: (base + int((time.time() - boot) * rate)) & 0xFFFFFFFF

    windows = persona.is_windows
    system = "1.3.6.1.2.1.1"
    put(f"{system}.1.0", OCTETS, sys_descr(persona, config).encode())
    put(f"{system}.2.0", OID, "1.3.6.1.4.1.311.1.1.3.1.2" if windows else NET_SNMP_OBJECT_ID)
    put(f"{system}.3.0", TIMETICKS, ticks(started))
    put(f"{system}.4.0", OCTETS, str(config.get("sys_contact") or (
        "" if windows else "Me <me@example.org>")).encode())
    put(f"{system}.5.0", OCTETS, (persona.hostname.upper() if windows
                                  else persona.hostname).encode())
    put(f"{system}.6.0", OCTETS, str(config.get("sys_location") or (
        "" if windows else "Sitting on the Dock of the Bay")).encode())
    put(f"{system}.7.0", INTEGER, 76 if windows else 72)
    put(f"{system}.8.0", TIMETICKS, 0 if windows else 1)
    if not windows:
        for index, (oid, descr) in enumerate(SYS_OR, 1):
            put(f"{system}.9.1.2.{index}", OID, oid)
            put(f"{system}.9.1.3.{index}", OCTETS, descr.encode())
            put(f"{system}.9.1.4.{index}", TIMETICKS, 1)
    rows = interfaces(persona)
    put("1.3.6.1.2.1.2.1.0", INTEGER, len(rows))
    table = "1.3.6.1.2.1.2.2.1"
    for column in range(1, 23):
        for row in rows:
            oid = f"{table}.{column}.{row.index}"
            fixed = {1: (INTEGER, row.index), 2: (OCTETS, row.name), 3: (INTEGER, row.kind),
                     4: (INTEGER, row.mtu), 5: (GAUGE32, row.speed), 6: (OCTETS, row.mac),
                     7: (INTEGER, 1), 8: (INTEGER, 1), 9: (TIMETICKS, 0), 22: (OID, "0.0")}
            if column in fixed:
                put(oid, *fixed[column])
            elif column in STATISTICS:
                name, rate = STATISTICS[column]
                put(oid, COUNTER32, row.counter(name) if row.sysfs else
                    counter(f"snmp-if{row.index}-{column}", rate * row.index))
            elif column not in (12, 18):
                put(oid, COUNTER32 if column < 21 else GAUGE32, 0)
    put("1.3.6.1.2.1.4.1.0", INTEGER, 2)  # ipForwarding: notForwarding
    put("1.3.6.1.2.1.4.2.0", INTEGER, 128 if windows else 64)  # ipDefaultTTL
    hr = "1.3.6.1.2.1.25.1"
    put(f"{hr}.1.0", TIMETICKS, ticks(boot))
    put(f"{hr}.2.0", OCTETS, _date_and_time)
    put(f"{hr}.3.0", INTEGER, 393216)
    put(f"{hr}.4.0", OCTETS, f"BOOT_IMAGE=/boot/vmlinuz-{persona.kernel} root=UUID="
        f"{_uuid(persona)} ro quiet\n".encode())
    put(f"{hr}.5.0", GAUGE32, 1 + persona.number("snmp-users", 3))
    processes = 90 + persona.number("snmp-procs", 80)
    put(f"{hr}.6.0", GAUGE32, lambda: processes + int(time.time() / 7) % 5)
    put(f"{hr}.7.0", INTEGER, 0)
    put("1.3.6.1.2.1.25.2.2.0", INTEGER,  # hrMemorySize (KB): 2..16 GiB less the kernel's
        (2 << persona.number("snmp-mem", 4)) * 1024 * 1024 - 49152 - persona.number("kb", 9000))
    return Mib(sorted(getters), getters)


STATISTICS = {10: ("rx_bytes", 900), 11: ("rx_packets", 3), 13: ("rx_dropped", 0),
              14: ("rx_errors", 0), 16: ("tx_bytes", 700), 17: ("tx_packets", 2),
              19: ("tx_dropped", 0), 20: ("tx_errors", 0)}  # ifTable column: sysfs, rate


@dataclass(frozen=True)
class Interface:
    """One ifTable row; `sysfs` is its /sys/class/net directory when it is real."""

    index: int
    name: bytes
    kind: int  # ifType: 24 softwareLoopback, 6 ethernetCsmacd
    mtu: int
    speed: int
    mac: bytes
    sysfs: str = ""

    def counter(self, name: str) -> Callable[[], int]:
        path = os.path.join(self.sysfs, "statistics", name)

        def read() -> int:
            try:
                with open(path, encoding="ascii") as stream:
                    return int(stream.read().strip() or 0) & 0xFFFFFFFF
            except (OSError, ValueError):
                return 0
        return read


def interfaces(persona: Persona, root: str = "/sys/class/net") -> list[Interface]:
    """The network namespace's own interfaces (a decky's lo, eth0, ...) when the agent listens
    on every address of a Linux persona; else lo and a derived eth0 (or Windows NIC)."""
    if not persona.is_windows and os.environ.get("DECNET_LISTEN", "::") in ("", "::",
                                                                            "0.0.0.0"):
        found = _sysfs_interfaces(root)
        if found:
            return found
    mac = bytes.fromhex("525400") + persona.derive("snmp-mac", 3)
    nic = b"Intel(R) 82574L Gigabit Network Connection" if persona.is_windows else b"eth0"
    return [Interface(1, b"lo", 24, 65536, 10_000_000, b""),
            Interface(2, nic, 6, 1500, 1_000_000_000, mac)]


def _read(path: str) -> str:
    try:
        with open(path, encoding="ascii") as stream:
            return stream.read().strip()
    except (OSError, ValueError):
        return ""


def _sysfs_interfaces(root: str) -> list[Interface]:
    rows = []
    try:
        names = sorted(os.listdir(root))[:32]
    except OSError:
        return []
    for name in names:
        base = os.path.join(root, name)
        index, kind, mtu = _read(f"{base}/ifindex"), _read(f"{base}/type"), _read(f"{base}/mtu")
        if not (index.isdigit() and mtu.isdigit()):
            continue
        loopback = kind == "772"
        speed = _read(f"{base}/speed")
        mbits = int(speed) if speed.isdigit() else (10 if loopback else 10000)
        try:
            mac = bytes.fromhex(_read(f"{base}/address").replace(":", ""))
        except ValueError:
            mac = b""
        rows.append(Interface(int(index), name.encode(), 24 if loopback else 6, int(mtu),
                              min(mbits * 1_000_000, 0xFFFFFFFF),
                              b"" if loopback else mac, base))
    rows.sort(key=lambda row: row.index)  # a container's eth0 may be ifindex 11507: renumber
    return [dataclasses.replace(row, index=number) for number, row in enumerate(rows, 1)]


def _uuid(persona: Persona) -> str:
    raw = persona.derive("snmp-root-uuid", 16).hex()
    return f"{raw[:8]}-{raw[8:12]}-4{raw[13:16]}-a{raw[17:20]}-{raw[20:32]}"


def _date_and_time() -> bytes:
    now = datetime.now(UTC)
    return (now.year.to_bytes(2, "big") + bytes([now.month, now.day, now.hour, now.minute,
                                                 now.second, now.microsecond // 100000])
            + b"+\0\0")
