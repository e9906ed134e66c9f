"""Containment as an attacker meets it (issue 13.4), on the real engine.

From a foothold (a shell in the ssh service container of a bridge decky, as that
container's user) and from a decky that sits only on an internal LAN: connections to
listeners on the host's addresses (every bridge gateway of the topology, docker0, the
host's own addresses), to the agent's port, and to another topology's decky all fail,
while inbound probes and connections inside the topology still succeed. A re-deploy
changes nothing; teardown leaves no labelled container, network or rule; the other
topology's rules and an unlabelled rule are left exactly as they were.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import httpx
import pytest

from decnet_lib.catalog import SERVICES
from decnet_lib.deploy import firewall_rules as R
from decnet_lib.deploy.containment import Firewall
from decnet_lib.deploy.containment_steps import reap_rules
from decnet_lib.deploy.naming import base_container_name, service_container_name
from decnet_lib.images.build import build_images

if TYPE_CHECKING:
    from docker_support import DockerEnv

pytest_plugins = ["docker_support"]
pytestmark = pytest.mark.slow
BUSYBOX = "/bin/busybox"
FOREIGN = ["DOCKER-USER", "-s", "198.18.93.0/24", "-j", "RETURN"]  # nobody's label


def host_addresses(env: DockerEnv) -> list[str]:
    """The host's own IPv4 addresses (global scope) and docker0's gateway."""
    out = subprocess.run(["ip", "-4", "-o", "addr", "show", "scope", "global"],
                         capture_output=True, text=True, check=True).stdout
    found = [line.split()[3].split("/")[0] for line in out.splitlines()]
    bridge = env.client.api.inspect_network("bridge")["IPAM"]["Config"]
    found += [cfg["Gateway"] for cfg in bridge if cfg.get("Gateway")]
    return sorted(set(found), key=ipaddress.IPv4Address)


@contextmanager
def listener() -> Iterator[tuple[int, list[str]]]:
    """A TCP listener on every host address; yields (port, peers that got through)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("0.0.0.0", 0))
    sock.listen(64)
    sock.setblocking(False)
    peers: list[str] = []
    try:
        yield sock.getsockname()[1], peers
    finally:
        while True:  # whatever reached the backlog counts
            try:
                conn, peer = sock.accept()
            except OSError:
                break
            peers.append(peer[0])
            conn.close()
        sock.close()


@contextmanager
def agent(address: str) -> Iterator[int]:
    """The real agent (`decnet agent serve`) on one host address; yields its port."""
    with socket.socket() as probe:
        probe.bind((address, 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory() as state:
        env = {**os.environ, "DECNET_STATE_DIR": state, "DECNET_MODE": "agent"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "decnet_lib.cli", "agent", "serve", "--host", address,
             "--port", str(port), "--insecure-http", "--log-level", "warning"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    httpx.get(f"http://{address}:{port}/health", timeout=1).raise_for_status()
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        pytest.fail("the agent did not come up")
                    time.sleep(0.2)
            yield port
        finally:
            proc.terminate()
            proc.wait(10)


def banner(ip: str, ready_within: float = 60.0) -> bytes:
    """The first bytes of port 22, once the real sshd listens (it makes the persona's host
    keys first)."""
    deadline = time.monotonic() + ready_within
    while True:
        try:
            with socket.create_connection((ip, 22), timeout=5) as probe:
                return probe.recv(64)
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_footholds_and_internal_deckies_reach_nothing_outside_their_topology(
    docker_env: DockerEnv,
) -> None:
    env = docker_env
    build_images(env.client)
    ssh = {"ssh": SERVICES["ssh"].image}
    s = env.subnets(3)
    ours = env.resolved(env.walled_yaml("walled", str(s[0]), str(s[1]), accept=True),
                        images=ssh)
    theirs = env.resolved(f"""
name: next-door
lans: [{{name: dmz, subnet: {s[2]}, dmz: true}}]
deckies: [{{name: web, services: [ssh], lans: {{dmz: null}}}}]
""", images=ssh)
    subprocess.run(["iptables", "-I", *FOREIGN], check=True)
    deployer = env.deployer()
    try:
        assert deployer.apply(theirs).ok
        before = R.parse(Firewall().listing())[theirs.id]
        result = deployer.apply(ours)
        assert result.ok, result.message()
        assert result.plan.firewall == "create"
        again = deployer.apply(ours)  # idempotent: rules and containers are in place
        assert again.ok and not again.plan.changed and again.plan.firewall is None

        foothold = service_container_name(ours.id, "gw", "ssh")
        internal = [base_container_name(ours.id, "ws"),
                    service_container_name(ours.id, "ws", "ssh")]
        ws_ip = ours.decky("ws").lans["office"]
        gateways = [lan.gateway for lan in ours.lans]
        # inbound still works: the host reaches a DMZ decky and an internal one
        for ip in (ours.decky("gw").lans["dmz"], ws_ip):
            assert banner(ip).startswith(b"SSH-2.0-OpenSSH_9.2p1")
        # the foothold sees the next LAN
        assert env.connects(foothold, ws_ip, 22)

        with listener() as (port, peers), agent(gateways[0]) as agent_port:
            targets = [(ip, p) for ip in (*gateways, *host_addresses(env))
                       for p in (port, agent_port)]
            targets.append((theirs.decky("web").lans["dmz"], 22))
            for container in (foothold, *internal):
                assert env.reachable(container, targets) == [], container
            assert httpx.get(f"http://{gateways[0]}:{agent_port}/health").status_code == 200
        assert peers == []

        for container in internal:  # no way out: no default route, no IPv6
            code, routes = env.shell(container, "ip route")
            assert code == 0 and b"default" not in routes, routes
            code, off = env.shell(container, "cat /proc/sys/net/ipv6/conf/all/disable_ipv6")
            assert off.strip() == b"1", off

        assert deployer.teardown(ours.id).ok
        assert env.labelled_count(ours.id) == (0, 0)
        listing = Firewall().listing()
        assert ours.id not in listing and ours.id[:12] not in listing
        assert R.parse(listing)[theirs.id] == before  # untouched, rule for rule
        assert " ".join(FOREIGN[1:]) in listing  # the unlabelled rule too
    finally:
        subprocess.run(["iptables", "-D", *FOREIGN], check=False)
        deployer.close()


def test_the_reaper_removes_rules_only_once_their_containers_are_gone(
    docker_env: DockerEnv,
) -> None:
    env = docker_env
    s = env.subnets(2)
    live = env.resolved(env.walled_yaml("live", str(s[0]), str(s[1])))
    deployer = env.deployer()
    firewall = Firewall()
    orphan = env.topology_id()  # rules left behind by a crash: no container of its own
    firewall.apply(orphan, ["198.18.94.0/24"])
    try:
        assert deployer.apply(live).ok
        # neither is kept, but the live one's containers still run: its rules stay
        reap_rules(firewall, env.client, keep=[], within=[live.id, orphan])
        assert firewall.topologies() & {live.id, orphan} == {live.id}
        # the reaper proper: containers first, then their rules
        assert deployer.reap_orphans([], within=[live.id]).ok
        assert env.labelled_count(live.id) == (0, 0)
        assert live.id not in firewall.topologies()
    finally:
        deployer.close()


def test_deckies_on_a_macvlan_lan_are_guarded_in_their_own_namespace(
    docker_env: DockerEnv,
) -> None:
    env = docker_env
    parent = env.parent_link()  # a dummy link: nothing sent on it leaves the machine
    env.require_link_type("macvlan", parent)
    build_images(env.client)
    s = env.subnets(2)
    topo = env.resolved(f"""
name: l2-walled
lans:
  - {{name: dmz, subnet: {s[0]}, dmz: true, driver: macvlan, parent: {parent}}}
  - {{name: lab, subnet: {s[1]}}}
deckies:
  - {{name: gw, services: [ssh], lans: {{dmz: null, lab: null}}, forwards_l3: true}}
  - {{name: ws, services: [ssh], lans: {{lab: null}}}}
""", images={"ssh": SERVICES["ssh"].image})
    deployer = env.deployer()
    try:
        assert deployer.apply(topo).ok
        foothold = service_container_name(topo.id, "gw", "ssh")
        assert banner(topo.decky("ws").lans["lab"]).startswith(b"SSH-2.0-")  # sshd is up
        assert env.connects(foothold, topo.decky("ws").lans["lab"], 22)  # inside: fine
        outside = ("198.51.100.7", 9)  # TEST-NET-2, routed to the dummy link if anywhere
        assert env.reachable(foothold, [outside]) == []
        pid = env.client.api.inspect_container(base_container_name(topo.id, "gw"))["State"][
            "Pid"]
        rules = subprocess.run(["nsenter", "-t", str(pid), "-n", "iptables", "-v", "-S",
                                "OUTPUT"], capture_output=True, text=True, check=True).stdout
        drop = next(line for line in rules.splitlines() if line.endswith("-j DROP"))
        assert int(drop.split("-c ")[1].split()[0]) > 0  # the guard dropped the probe
        assert deployer.apply(topo).ok  # the guard is idempotent
    finally:
        deployer.teardown(topo.id)
        deployer.close()
