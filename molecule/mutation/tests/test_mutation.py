"""Verify the mutation scenario: db01 was added and runs, old01 is gone, the rest untouched."""

from __future__ import annotations

import json
import os
import time

TOPOLOGY = os.environ.get("MAZENET_TOPOLOGY", "mol-mutation")
VENV = os.environ.get("MAZENET_VENV", ".venv")
LABEL = f"label=decnet.topology.name={TOPOLOGY}"


def _decnet(host, *args: str):
    return json.loads(host.check_output(f"{VENV}/bin/decnet topology {' '.join(args)} --json"))


def _containers(host) -> dict[str, dict]:
    ids = host.check_output(f"docker ps -aq --filter {LABEL}").split()
    found = json.loads(host.check_output(f"docker inspect {' '.join(ids)}"))
    return {c["Name"].lstrip("/").split("-", 2)[2]: c for c in found}


def test_stored_topology_has_the_changes(host):
    topology = _decnet(host, "show", TOPOLOGY)
    assert topology["status"] == "active"
    deckies = {d["name"]: d for d in topology["deckies"]}
    assert set(deckies) == {"gw01", "ws01", "db01"}
    assert deckies["db01"]["lans"] == {"office": "10.230.21.40"}
    assert deckies["db01"]["services"] == ["mysql", "ssh"]


def test_both_mutations_applied_once(host):
    mutations = _decnet(host, "mutations", TOPOLOGY)
    assert [(m["op"], m["state"]) for m in mutations] == [
        ("add_decky", "applied"), ("remove_decky", "applied")]


def test_docker_matches(host):
    containers = _containers(host)
    assert set(containers) == {
        "gw01", "gw01-ssh", "ws01", "ws01-http", "db01", "db01-mysql", "db01-ssh"}
    assert all(c["State"]["Status"] == "running" for c in containers.values())
    networks = containers["db01"]["NetworkSettings"]["Networks"]
    assert [n["IPAddress"] for n in networks.values()] == ["10.230.21.40"]
    labels = containers["db01-mysql"]["Config"]["Labels"]
    assert labels["decnet.decky"] == "db01" and labels["decnet.service"] == "mysql"


def test_the_new_decky_answers_with_its_banner(host):
    gw = next(n for n in host.check_output(
        f"docker ps --filter {LABEL} --format '{{{{.Names}}}}'").split() if n.endswith("-gw01"))
    banner = ""
    for _ in range(60):  # the real sshd makes the decky's host keys before it listens
        result = host.run(f"docker exec {gw} sh -c 'nc -w 3 10.230.21.40 22 </dev/null'")
        banner = result.stdout
        if result.rc == 0 and banner:
            break
        time.sleep(1)
    assert banner.startswith("SSH-2.0-OpenSSH_9.2p1 db01"), banner


def test_untouched_deckies_were_not_recreated(host):
    """Applying a mutation to a live maze touches only what the op changes."""
    containers = _containers(host)
    added = containers["db01"]["Created"]
    for name in ("gw01", "gw01-ssh", "ws01", "ws01-http"):
        assert containers[name]["Created"] < added, name
