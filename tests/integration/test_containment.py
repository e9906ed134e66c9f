"""Containment against the real engine (issue 13.2), held to what a user sees: a decky
answers whoever reaches it, but cannot open connections to the Docker host (any of its
addresses), to another topology, or anywhere outside its own topology's LANs; internal
deckies have no default route; teardown leaves no labelled rule, and rules that are not
this topology's are never touched."""

from __future__ import annotations

import socket
import subprocess
import threading
from typing import TYPE_CHECKING

import pytest

from decnet_lib.catalog import SERVICES
from decnet_lib.deploy.containment import Firewall, chains
from decnet_lib.deploy.naming import base_container_name
from decnet_lib.images.build import build_images

if TYPE_CHECKING:
    from docker_support import DockerEnv

pytest_plugins = ["docker_support"]
BUSYBOX = "/bin/busybox"


class Listener:
    """A TCP listener on every host address; counts who got through."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("0.0.0.0", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                conn, peer = self.sock.accept()
            except OSError:
                continue
            self.accepted.append(peer[0])
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2)
        self.sock.close()


def iptables_rules() -> str:
    return subprocess.run(["iptables", "-S"], capture_output=True, text=True,
                          check=True).stdout


@pytest.mark.slow
def test_deckies_answer_but_cannot_reach_out(docker_env: DockerEnv) -> None:
    env = docker_env
    build_images(env.client)
    ssh = {"ssh": SERVICES["ssh"].light_image}  # the busybox emulator: answers at once
    s = env.subnets(3)
    ours = env.resolved(env.walled_yaml("contained", str(s[0]), str(s[1])), images=ssh,
                        emulation="light")
    theirs = env.resolved(f"""
name: neighbour
lans:
  - {{name: dmz, subnet: {s[2]}, dmz: true}}
deckies:
  - {{name: web, services: [ssh], lans: {{dmz: null}}}}
""", images=ssh, emulation="light")
    # a foreign rule (no label) and another topology's labelled rule must survive us
    foreign = ["DOCKER-USER", "-s", "198.18.77.0/24", "-j", "RETURN"]
    subprocess.run(["iptables", "-I", *foreign], check=True)
    listener = Listener()
    deployer = env.deployer()
    try:
        assert deployer.apply(ours).ok
        assert deployer.apply(theirs).ok
        gw = base_container_name(ours.id, "gw")
        ws = base_container_name(ours.id, "ws")
        dmz_gateway = ours.lan("dmz").gateway
        office_gateway = ours.lan("office").gateway
        ws_ip = ours.decky("ws").lans["office"]
        neighbour_ip = theirs.decky("web").lans["dmz"]

        # inbound still works: the host reaches both deckies' services
        for ip in (ours.decky("gw").lans["dmz"], ws_ip):
            with socket.create_connection((ip, 22), timeout=5) as probe:
                assert probe.recv(64)  # the banner: the reply crossed the containment
        # inside the topology: the bridge decky reaches the inner decky
        assert env.connects(gw, ws_ip, 22)
        # outward: not the host (any address), not the neighbour topology
        for container in (gw, ws):
            for ip in (dmz_gateway, office_gateway):
                assert not env.connects(container, ip, listener.port), (container, ip)
            assert not env.connects(container, neighbour_ip, 22), container
        assert listener.accepted == []
        # internal deckies have no default route
        code, routes = env.client.containers.get(ws).exec_run([BUSYBOX, "ip", "route"])
        assert code == 0 and b"default" not in routes, routes

        rules = iptables_rules()
        assert all(chain in rules for chain in chains(ours.id))
        assert deployer.teardown(ours.id).ok
        rules = iptables_rules()
        assert ours.id not in rules and not any(c in rules for c in chains(ours.id))
        assert theirs.id in rules  # the neighbour's rules are untouched
        assert "198.18.77.0/24" in rules  # and so is the unlabelled one
        assert Firewall().topologies() >= {theirs.id}
    finally:
        listener.close()
        subprocess.run(["iptables", "-D", *foreign], check=False)
        deployer.close()


@pytest.mark.slow
def test_every_container_is_hardened(docker_env: DockerEnv) -> None:
    from decnet_lib.deploy.naming import service_container_name

    env = docker_env
    build_images(env.client)
    dmz, office = env.subnets(2)
    topo = env.resolved(f"""
name: hardened
lans:
  - {{name: dmz, subnet: {dmz}, dmz: true}}
  - {{name: office, subnet: {office}}}
deckies:
  - name: web
    services: [ssh]
    lans: {{dmz: null, office: null}}
    expose: {{address: 0.0.0.0}}
    resources: {{memory: 96m, pids: 64, cpus: 0.25}}
  - {{name: ws, services: [ssh], lans: {{office: null}}}}
""", images={"ssh": SERVICES["ssh"].light_image}, emulation="light")
    deployer = env.deployer()
    try:
        assert deployer.apply(topo).ok
        api = env.client.api
        for decky in ("web", "ws"):
            base = api.inspect_container(base_container_name(topo.id, decky))
            service = api.inspect_container(service_container_name(topo.id, decky, "ssh"))
            for info in (base, service):
                host = info["HostConfig"]
                assert host["CapDrop"] == ["ALL"] and not host.get("CapAdd")
                assert "no-new-privileges:true" in host["SecurityOpt"]
                assert host["ReadonlyRootfs"] is True and "/tmp" in host["Tmpfs"]
                assert host["PidsLimit"] > 0 and host["Memory"] > 0 and host["NanoCpus"] > 0
                assert host["LogConfig"] == {"Type": "json-file",
                                             "Config": {"max-size": "10m", "max-file": "3"}}
                assert info["Config"]["User"] == "65534:65534"
            assert base["HostConfig"]["Sysctls"]["net.ipv4.ip_forward"] == "0"
            code, _ = env.client.containers.get(service["Id"]).exec_run(
                [BUSYBOX, "touch", "/probe-rw"])
            assert code != 0  # a read-only root
        web = api.inspect_container(service_container_name(topo.id, "web", "ssh"))["HostConfig"]
        assert (web["Memory"], web["PidsLimit"], web["NanoCpus"]) == (
            96 * 1024 * 1024, 64, 250_000_000)  # the decky's own limits
        ports = api.inspect_container(base_container_name(topo.id, "web"))["HostConfig"][
            "PortBindings"]
        assert ports["22/tcp"] == [{"HostIp": "0.0.0.0", "HostPort": "22"}]
    finally:
        deployer.teardown(topo.id)
        deployer.close()


def test_publishing_on_loopback_is_refused() -> None:
    from decnet_lib.topology.loader import decode_document
    from decnet_lib.validation.validate import validate_data

    doc, issues = validate_data(decode_document(b"""
name: loop
lans: [{name: dmz, subnet: 10.77.0.0/24, dmz: true}]
deckies: [{name: web, services: [http], lans: {dmz: null}, expose: {address: 127.0.0.1}}]
"""))
    assert doc is None
    assert [(i.code, i.target) for i in issues] == [("SCHEMA", "deckies[0].expose.address")]
    assert "loopback" in issues[0].message
