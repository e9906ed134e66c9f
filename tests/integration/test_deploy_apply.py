"""Deploy on the real Docker Engine: a maze, idempotence, incremental changes, expose."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from decnet_lib.deploy import labels as L
from decnet_lib.deploy.naming import base_container_name, network_name, service_container_name
from decnet_lib.topology.resolved import ResolvedDecky

if TYPE_CHECKING:
    from docker_support import DockerEnv

pytest_plugins = ["docker_support"]
pytestmark = pytest.mark.slow

BUSYBOX = "/bin/busybox"


def test_maze_deploys_with_ips_internal_lans_forwarding_and_labels(docker_env: DockerEnv) -> None:
    env, api = docker_env, docker_env.client.api
    subnets = env.subnets(3)
    topo = env.resolved(env.maze_yaml("maze", subnets))
    deployer = env.deployer()
    seen: list[tuple[int, int, str]] = []
    result = deployer.apply(topo, progress=lambda done, total, msg: seen.append((done, total, msg)))
    assert result.ok, result.message()
    assert seen and seen[-1][0] == seen[-1][1] == 3 + 4 + 5  # networks + bases + services
    assert all(total == seen[-1][1] for _, total, _ in seen)

    inv = deployer.inventory(topo.id)
    assert len(inv.networks) == 3 and len(inv.containers) == 9 and inv.all_running

    for lan in topo.lans:
        net = api.inspect_network(network_name(topo.id, lan.name))
        assert net["Internal"] is (not lan.dmz)
        assert net["IPAM"]["Config"][0]["Subnet"] == lan.subnet
        assert net["IPAM"]["Config"][0]["Gateway"] == lan.gateway
        labels = net["Labels"]
        assert labels[L.MANAGED] == "true" and labels[L.TOPOLOGY_ID] == topo.id
        assert labels[L.TOPOLOGY_NAME] == "maze" and labels[L.LAN] == lan.name
        assert labels[L.SPEC_HASH]

    for decky in topo.deckies:
        base = api.inspect_container(base_container_name(topo.id, decky.name))
        attached = base["NetworkSettings"]["Networks"]
        assert set(attached) == {network_name(topo.id, lan) for lan in decky.lans}
        for lan, ip in decky.lans.items():
            assert attached[network_name(topo.id, lan)]["IPAddress"] == ip
        assert base["HostConfig"]["Init"] is True
        assert base["Config"]["Hostname"] == decky.name
        labels = base["Config"]["Labels"]
        assert labels[L.ROLE] == "base" and labels[L.DECKY] == decky.name
        assert labels[L.TOPOLOGY_ID] == topo.id and labels[L.SPEC_HASH]
        sysctls = base["HostConfig"].get("Sysctls") or {}
        assert sysctls["net.ipv4.ip_unprivileged_port_start"] == "0"
        if decky.forwards_l3:
            assert sysctls["net.ipv4.ip_forward"] == "1"
            code, out = env.client.containers.get(base["Id"]).exec_run(
                [BUSYBOX, "cat", "/proc/sys/net/ipv4/ip_forward"])
            assert code == 0 and out.strip() == b"1"
        else:  # off unless the decky routes (issue 13.3)
            assert sysctls["net.ipv4.ip_forward"] == "0"
        for svc in decky.services:
            ctr = api.inspect_container(service_container_name(topo.id, decky.name, svc))
            assert ctr["HostConfig"]["NetworkMode"] == f"container:{base['Id']}"
            assert ctr["HostConfig"]["Init"] is True
            assert ctr["State"]["Running"]
            labels = ctr["Config"]["Labels"]
            assert labels[L.ROLE] == "service" and labels[L.SERVICE] == svc
            assert labels[L.TOPOLOGY_SERVICE] == "true" and labels[L.DECKY] == decky.name
            env_vars = dict(item.split("=", 1) for item in ctr["Config"]["Env"])
            assert env_vars["DECNET_SERVICE"] == svc and env_vars["DECNET_TOPOLOGY"] == "maze"
    db_mysql = api.inspect_container(service_container_name(topo.id, "db", "mysql"))
    assert "DECNET_CFG_VERSION=8.0.36" in db_mysql["Config"]["Env"]

    # the second apply plans nothing and changes nothing
    before = env.container_ids(topo.id)
    again = deployer.apply(topo)
    assert again.ok and not again.plan.changed, again.plan.render()
    assert env.container_ids(topo.id) == before

    gone = deployer.teardown(topo.id)
    assert gone.ok and len(gone.containers) == 9 and len(gone.networks) == 3
    assert env.labelled_count(topo.id) == (0, 0)


def test_changes_touch_only_the_containers_they_concern(docker_env: DockerEnv) -> None:
    env = docker_env
    s = env.subnets(1)[0]
    topo = env.resolved(f"""
name: inc
lans: [{{name: dmz, subnet: {s}, dmz: true}}]
deckies:
  - {{name: a, services: [ssh], lans: {{dmz: {env.host(s, 10)}}}}}
  - {{name: b, services: [ssh, http], lans: {{dmz: {env.host(s, 11)}}}}}
  - {{name: c, services: [ssh], lans: {{dmz: {env.host(s, 12)}}}}}
""")
    deployer = env.deployer()
    assert deployer.apply(topo).ok
    ids = env.container_ids(topo.id)

    def name(decky: str, svc: str | None = None) -> str:
        if svc is None:
            return base_container_name(topo.id, decky)
        return service_container_name(topo.id, decky, svc)

    def apply_and_diff() -> tuple[set[str], set[str], set[str]]:
        nonlocal ids
        result = deployer.apply(topo)
        assert result.ok, result.message()
        now = env.container_ids(topo.id)
        added = set(now) - set(ids)
        removed = set(ids) - set(now)
        replaced = {n for n in set(now) & set(ids) if now[n] != ids[n]}
        ids = now
        return added, removed, replaced

    # add a decky: only its base and service are created
    topo.deckies.append(ResolvedDecky(id="d", name="d", services=["ssh"],
                                      lans={"dmz": env.host(s, 13)}, images={"ssh": env.image}))
    assert apply_and_diff() == ({name("d"), name("d", "ssh")}, set(), set())

    # remove a decky: only its containers go
    topo.deckies = [d for d in topo.deckies if d.name != "c"]
    assert apply_and_diff() == (set(), {name("c"), name("c", "ssh")}, set())

    # change one decky's services: only those service containers change
    b = topo.decky("b")
    assert b is not None
    b.services = ["ssh", "ftp"]
    b.images = {"ssh": env.image, "ftp": env.image}
    assert apply_and_diff() == ({name("b", "ftp")}, {name("b", "http")}, set())

    # change one service's config: only that container is recreated
    b.service_config = {"ssh": {"banner": "SSH-2.0-OpenSSH_7.4"}}
    assert apply_and_diff() == (set(), set(), {name("b", "ssh")})

    # move a decky to another IP: its base and services are recreated, nothing else
    a = topo.decky("a")
    assert a is not None
    a.lans = {"dmz": env.host(s, 50)}
    assert apply_and_diff() == (set(), set(), {name("a"), name("a", "ssh")})
    attached = env.client.api.inspect_container(name("a"))["NetworkSettings"]["Networks"]
    assert attached[network_name(topo.id, "dmz")]["IPAddress"] == env.host(s, 50)


def _port_free(port: int, kind: int) -> bool:
    with socket.socket(socket.AF_INET, kind) as sock:
        try:
            sock.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def test_expose_publishes_service_ports_on_the_host(docker_env: DockerEnv) -> None:
    env = docker_env
    wanted = [(1883, socket.SOCK_STREAM), (5060, socket.SOCK_STREAM), (5060, socket.SOCK_DGRAM)]
    if not all(_port_free(port, kind) for port, kind in wanted):
        pytest.skip("host ports 1883/tcp, 5060/tcp+udp are busy")
    s = env.subnets(1)[0]
    topo = env.resolved(f"""
name: pub
lans: [{{name: dmz, subnet: {s}, dmz: true}}]
deckies:
  - {{name: edge, services: [mqtt, sip], lans: {{dmz: {env.host(s, 10)}}}, expose: true}}
  - {{name: quiet, services: [mqtt], lans: {{dmz: {env.host(s, 11)}}}, forwards_l3: true}}
""")
    result = env.deployer().apply(topo)
    assert result.ok, result.message()
    edge = env.client.api.inspect_container(base_container_name(topo.id, "edge"))
    ports = edge["NetworkSettings"]["Ports"]
    for key, port in (("1883/tcp", "1883"), ("5060/tcp", "5060"), ("5060/udp", "5060")):
        assert ports.get(key), ports
        assert {binding["HostPort"] for binding in ports[key]} == {port}
    quiet = env.client.api.inspect_container(base_container_name(topo.id, "quiet"))
    assert not quiet["HostConfig"]["PortBindings"]  # forwards_l3 is not expose
    assert not _port_free(1883, socket.SOCK_STREAM)  # the host port is really held


def test_an_image_rebuilt_under_its_tag_recreates_only_its_containers(
    docker_env: DockerEnv,
) -> None:
    env = docker_env
    tag = f"mazenet-test-{env.token}:ssh"
    first = env.build_image(tag, 1)
    s = env.subnets(1)[0]
    topo = env.resolved(f"""
name: rebuilt
lans: [{{name: dmz, subnet: {s}, dmz: true}}]
deckies:
  - {{name: a, services: [ssh, http], lans: {{dmz: {env.host(s, 10)}}}}}
""", images={"ssh": tag})
    deployer = env.deployer()
    assert deployer.apply(topo).ok
    ssh, http = (service_container_name(topo.id, "a", svc) for svc in ("ssh", "http"))
    before = env.container_ids(topo.id)
    assert env.client.api.inspect_container(ssh)["Image"] == first

    second = env.build_image(tag, 2)  # `decnet images build` after a change, same tag
    assert second != first
    plan = deployer.plan(topo)
    assert plan.to_dict()["recreate"] == [ssh]
    assert f"{tag} was rebuilt" in plan.render()
    result = deployer.apply(topo)
    assert result.ok, result.message()
    after = env.container_ids(topo.id)
    assert after[ssh] != before[ssh] and after[http] == before[http]
    assert after[base_container_name(topo.id, "a")] == before[base_container_name(topo.id, "a")]
    assert env.client.api.inspect_container(ssh)["Image"] == second
    assert not deployer.plan(topo).changed


APPLY_WORKER = Path(__file__).resolve().parents[1] / "support" / "apply_worker.py"


def test_two_processes_applying_one_topology_take_turns(
    docker_env: DockerEnv, tmp_path: Path
) -> None:
    """Without the host lock both would create the same containers and one would fail."""
    env = docker_env
    subnets = env.subnets(3)
    topo = env.resolved(env.maze_yaml("twice", subnets))
    document = tmp_path / "topology.json"
    document.write_text(topo.model_dump_json())
    worker_env = {**os.environ, "PYTHONPATH": str(APPLY_WORKER.parents[2]),
                  "DECNET_LOCK_DIR": str(tmp_path / "locks")}
    procs = [subprocess.Popen([sys.executable, str(APPLY_WORKER), str(document), env.image],
                              env=worker_env, stdout=subprocess.PIPE, text=True)
             for _ in range(2)]
    outputs = [proc.communicate(timeout=300)[0].strip() for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], outputs
    assert sorted(outputs) == ["applied", "up to date: nothing to change"]
    inventory = env.deployer().inventory(topo.id)
    assert len(inventory.containers) == 9 and inventory.all_running


def test_two_topologies_with_the_same_decky_names_coexist(docker_env: DockerEnv) -> None:
    env = docker_env
    one = env.resolved(env.maze_yaml("twin", env.subnets(3)))
    two = env.resolved(env.maze_yaml("twin", env.subnets(3)))
    deployer = env.deployer()
    assert deployer.apply(one).ok and deployer.apply(two).ok
    ids_one, ids_two = env.container_ids(one.id), env.container_ids(two.id)
    assert len(ids_one) == len(ids_two) == 9 and not set(ids_one) & set(ids_two)
    assert not deployer.apply(one).plan.changed and not deployer.apply(two).plan.changed
    assert deployer.teardown(one.id).ok
    assert env.labelled_count(one.id) == (0, 0)
    assert env.container_ids(two.id) == ids_two
    assert deployer.inventory(two.id).all_running
