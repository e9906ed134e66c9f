"""IPv4 subnet helpers and the deterministic address allocator."""

from __future__ import annotations

import re
from ipaddress import IPv4Address, IPv4Network, ip_address, ip_network

MIN_PREFIX = 29  # a LAN smaller than /29 is refused (SUBNET_TOO_SMALL)
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_DOTTED_QUAD = re.compile(rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}")


def parse_subnet(text: str) -> IPv4Network | None:
    """Parse a strict IPv4 CIDR (host bits must be zero); None when malformed."""
    try:
        network = ip_network(text, strict=True)
    except (ValueError, TypeError):
        return None
    return network if isinstance(network, IPv4Network) and "/" in text else None


def parse_ip(text: str) -> IPv4Address | None:
    """Parse an IPv4 address; None when malformed."""
    try:
        address = ip_address(text)
    except (ValueError, TypeError):
        return None
    return address if isinstance(address, IPv4Address) else None


def parse_ip_int(text: str) -> int | None:
    """Like `parse_ip`, as an integer; a fast path for the common dotted-quad form."""
    if isinstance(text, str) and _DOTTED_QUAD.fullmatch(text):
        a, b, c, d = text.split(".")
        return (int(a) << 24) | (int(b) << 16) | (int(c) << 8) | int(d)
    address = parse_ip(text)
    return None if address is None else int(address)


def gateway_of(network: IPv4Network) -> IPv4Address:
    """The LAN gateway: the first host address (`.1`)."""
    return network.network_address + 1


def reserved_ints(network: IPv4Network) -> tuple[int, int, int]:
    """Network, gateway and broadcast addresses as integers."""
    base = int(network.network_address)
    return base, base + 1, int(network.broadcast_address)


def usable_count(network: IPv4Network) -> int:
    """Addresses a decky can take: all but network, gateway and broadcast."""
    return max(network.num_addresses - 3, 0)


class Allocator:
    """Hands out the lowest free host address of one subnet, in O(1) amortised."""

    def __init__(self, network: IPv4Network, taken: set[int] | None = None) -> None:
        self._network = network
        self._taken = set(taken or ())
        self._next = int(network.network_address) + 2
        self._last = int(network.broadcast_address) - 1

    def reserve(self, address: IPv4Address | int) -> None:
        self._taken.add(int(address))

    def allocate(self) -> IPv4Address:
        """The next free address; raises ValueError when the subnet is full."""
        while self._next <= self._last and self._next in self._taken:
            self._next += 1
        if self._next > self._last:
            raise ValueError(f"subnet {self._network} has no free address left")
        address = self._next
        self._taken.add(address)
        self._next += 1
        return IPv4Address(address)


RESERVED_NETWORKS: tuple[tuple[IPv4Network, str], ...] = (
    (IPv4Network("0.0.0.0/8"), "'this network' (0.0.0.0/8)"),
    (IPv4Network("127.0.0.0/8"), "loopback (127.0.0.0/8)"),
    (IPv4Network("169.254.0.0/16"), "link-local (169.254.0.0/16)"),
    (IPv4Network("224.0.0.0/4"), "multicast (224.0.0.0/4)"),
    (IPv4Network("240.0.0.0/4"), "reserved and broadcast (240.0.0.0/4)"),
)
"""Address ranges a LAN must not overlap: a decky there could not be reached, or would
shadow the host's own loopback, link-local or multicast traffic."""


def reserved_overlap(network: IPv4Network) -> str | None:
    """The reserved range `network` overlaps, described; None when it overlaps none."""
    for reserved, label in RESERVED_NETWORKS:
        if network.overlaps(reserved):
            return label
    return None
