"""Verify the default scenario: the maze runs on Docker as the topology says, the services
the roles started run, and a decky answers with its configured banner."""

from __future__ import annotations

import json
import os

import pytest

TOPOLOGY = os.environ.get("MAZENET_TOPOLOGY", "mol-default")
ROOT = os.environ.get("MAZENET_ROOT", "/tmp/mazenet-molecule-default")
VENV = os.environ.get("MAZENET_VENV", ".venv")
LABEL = f"label=decnet.topology.name={TOPOLOGY}"
EXPECTED = {  # container suffix -> role
    "gw01": "base", "gw01-ssh": "service", "gw01-http": "service",
    "web01": "base", "web01-http": "service",
    "ws01": "base", "ws01-smb": "service",
}


def _containers(host) -> list[dict]:
    ids = host.check_output(f"docker ps -aq --filter {LABEL}").split()
    assert ids, "no container of the topology"
    return json.loads(host.check_output(f"docker inspect {' '.join(ids)}"))


def _by_suffix(host) -> dict[str, dict]:
    found = {}
    for container in _containers(host):
        name = container["Name"].lstrip("/")
        found[name.split("-", 2)[2]] = container
    return found


def test_stored_topology_is_active(host):
    out = host.check_output(f"{VENV}/bin/decnet topology show {TOPOLOGY} --json")
    topology = json.loads(out)
    assert topology["status"] == "active"
    assert {d["name"] for d in topology["deckies"]} == {"gw01", "web01", "ws01"}


def test_every_container_exists_and_runs(host):
    found = _by_suffix(host)
    assert set(found) == set(EXPECTED)
    for suffix, container in found.items():
        assert container["State"]["Status"] == "running", suffix


def test_labels(host):
    for suffix, container in _by_suffix(host).items():
        labels = container["Config"]["Labels"]
        assert labels["decnet.managed"] == "true"
        assert labels["decnet.topology.name"] == TOPOLOGY
        assert labels["decnet.role"] == EXPECTED[suffix]
        assert labels["decnet.decky"] == suffix.split("-")[0]
        if EXPECTED[suffix] == "service":
            assert labels["decnet.topology.service"] == "true"
            assert labels["decnet.service"] == suffix.split("-", 1)[1]


def test_addresses(host):
    found = _by_suffix(host)
    nets = found["gw01"]["NetworkSettings"]["Networks"]
    addresses = {name.rsplit("-", 1)[1]: net["IPAddress"] for name, net in nets.items()}
    assert addresses == {"dmz": "10.230.10.10", "office": "10.230.11.10"}
    web = found["web01"]["NetworkSettings"]["Networks"]
    assert [net["IPAddress"] for net in web.values()] == ["10.230.10.20"]
    ws = found["ws01"]["NetworkSettings"]["Networks"]
    assert all(net["IPAddress"].startswith("10.230.11.") for net in ws.values())
    # service containers share their base's network namespace
    base_id = found["gw01"]["Id"]
    assert found["gw01-ssh"]["HostConfig"]["NetworkMode"] == f"container:{base_id}"


def test_networks_are_labelled_and_the_office_is_internal(host):
    ids = host.check_output(f"docker network ls -q --filter {LABEL}").split()
    networks = json.loads(host.check_output(f"docker network inspect {' '.join(ids)}"))
    by_lan = {n["Labels"]["decnet.lan"]: n for n in networks}
    assert set(by_lan) == {"dmz", "office"}
    assert by_lan["office"]["Internal"] is True
    assert by_lan["dmz"]["IPAM"]["Config"][0]["Subnet"] == "10.230.10.0/24"


def test_ssh_banner_from_a_neighbour_on_the_dmz(host):
    web = next(name for name in _names(host) if name.endswith("-web01"))
    banner = host.check_output(f"docker exec {web} sh -c 'nc -w 3 10.230.10.10 22 </dev/null'")
    assert banner.startswith("SSH-2.0-OpenSSH_9.2p1 MazeNET-molecule")


def _names(host) -> list[str]:
    return host.check_output(f"docker ps --filter {LABEL} --format '{{{{.Names}}}}'").split()


@pytest.mark.parametrize("service", ["bus", "reconciler", "ingest", "agent"])
def test_services_run_from_their_pid_files(host, service):
    pid = host.file(f"{ROOT}/run/{service}.pid").content_string.strip()
    assert pid.isdigit()
    assert host.run(f"kill -0 {pid}").rc == 0
    assert "decnet" in host.file(f"/proc/{pid}/cmdline").content_string


def test_bus_socket_is_group_decnet_0660(host):
    socket = host.file(f"{ROOT}/run/bus.sock")
    assert socket.is_socket
    assert socket.group == "decnet"
    assert socket.mode == 0o660


def test_configuration_files(host):
    for name in ("master.env", "agent.env"):
        env = host.file(f"{ROOT}/etc/{name}")
        assert env.exists and env.mode == 0o640 and env.group == "decnet"
    assert "DECNET_MODE=master" in host.file(f"{ROOT}/etc/master.env").content_string
    assert "DECNET_MODE=agent" in host.file(f"{ROOT}/etc/agent.env").content_string


def test_agent_certificates(host):
    for name, mode in (("agent.crt", 0o644), ("agent.key", 0o600), ("ca.crt", 0o644)):
        assert host.file(f"{ROOT}/agent/pki/{name}").mode == mode


def test_agent_answers_over_mutual_tls_only(host):
    pki = f"{ROOT}/state/pki"
    script = (
        "import httpx, ssl, sys; "
        f"ctx = ssl.create_default_context(cafile='{pki}/ca.crt'); "
        f"ctx.load_cert_chain('{pki}/master.crt', '{pki}/master.key'); "
        "print(httpx.get('https://127.0.0.1:18766/health', verify=ctx).json()['ok'])"
    )
    assert host.check_output(f'{VENV}/bin/python -c "{script}"') == "True"
    anonymous = (
        "import httpx, ssl; "
        f"ctx = ssl.create_default_context(cafile='{pki}/ca.crt'); "
        "httpx.get('https://127.0.0.1:18766/health', verify=ctx)"
    )
    assert host.run(f'{VENV}/bin/python -c "{anonymous}"').rc != 0
