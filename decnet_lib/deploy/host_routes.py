"""The host's own routes: a LAN must not claim a network this Docker host already routes
elsewhere (its uplink, a VPN, docker0, another project's bridge), or the decoys would
shadow real hosts. Read at deploy from /proc/net/route (IPv4); a host without it (or a
read error) checks nothing, as the validation of the document already did its part."""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv4Network
from pathlib import Path

from decnet_lib.deploy.failures import DeployError

ROUTES = Path("/proc/net/route")


class SubnetReserved(DeployError):
    """A LAN's subnet overlaps a network the host routes through another interface."""

    code = "SUBNET_RESERVED"


def host_routes(path: Path = ROUTES) -> list[tuple[str, IPv4Network]]:
    """(interface, network) of every route but the default route."""
    try:
        lines = path.read_text().splitlines()[1:]
    except OSError:
        return []
    routes = []
    for line in lines:
        fields = line.split()
        if len(fields) < 8:
            continue
        try:
            destination = int(fields[1], 16).to_bytes(4, "little")
            mask = int(fields[7], 16).to_bytes(4, "little")
            network = IPv4Network((int.from_bytes(destination, "big"),
                                   bin(int.from_bytes(mask, "big")).count("1")), strict=False)
        except ValueError:
            continue
        if network.prefixlen:  # the default route overlaps everything
            routes.append((fields[0], network))
    return routes


def check_host_routes(subnets: Iterable[str], own_interfaces: set[str],
                      routes: list[tuple[str, IPv4Network]] | None = None) -> None:
    """Refuse (SubnetReserved) a subnet overlapping a route of an interface not ours."""
    table = host_routes() if routes is None else routes
    for text in subnets:
        subnet = IPv4Network(text, strict=False)
        for interface, network in table:
            if interface not in own_interfaces and subnet.overlaps(network):
                raise SubnetReserved(
                    f"LAN subnet {subnet} overlaps {network}, which this host routes through "
                    f"{interface}: choose a free subnet")
