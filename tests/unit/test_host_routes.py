"""LAN subnets that overlap the host's own routes are refused at deploy (SUBNET_RESERVED)."""

from __future__ import annotations

from ipaddress import IPv4Network
from pathlib import Path

import pytest

from decnet_lib.deploy.host_routes import SubnetReserved, check_host_routes, host_routes

TABLE = """Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0
docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
br-0123456789ab\t000014AC\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
"""


def test_routes_are_read_without_the_default_route(tmp_path: Path) -> None:
    path = tmp_path / "route"
    path.write_text(TABLE)
    assert host_routes(path) == [("docker0", IPv4Network("172.17.0.0/16")),
                                 ("br-0123456789ab", IPv4Network("172.20.0.0/24"))]
    assert host_routes(tmp_path / "missing") == []


def test_a_subnet_over_a_host_route_is_refused_unless_the_bridge_is_ours(tmp_path: Path) -> None:
    path = tmp_path / "route"
    path.write_text(TABLE)
    routes = host_routes(path)
    with pytest.raises(SubnetReserved) as caught:
        check_host_routes(["172.17.9.0/24"], set(), routes)
    assert caught.value.code == "SUBNET_RESERVED" and "docker0" in caught.value.message
    check_host_routes(["172.20.0.0/24"], {"br-0123456789ab"}, routes)  # our own bridge
    check_host_routes(["10.99.0.0/24"], set(), routes)
