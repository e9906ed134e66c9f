"""Master -> agent (mutual TLS) -> Docker -> emulators -> agent log, then live mutations.

A 3-LAN maze is stored on the master (SQLite), deployed through a real agent on 127.0.0.1,
probed from a client container on the DMZ network; the attempts land in the agent's log
with the client's IP. Live add/remove/update mutations go through the reconciler and the
push hook and change only the containers they touch. Teardown leaves nothing labelled.
"""

from __future__ import annotations

import ipaddress
import time
from pathlib import Path

from docker import DockerClient
from sqlalchemy import Engine

from decnet_lib.db import create_topology, new_session
from decnet_lib.deploy.naming import network_name
from decnet_lib.events import set_publisher
from decnet_lib.images.build import build_images
from decnet_lib.master import lifecycle
from decnet_lib.mutations.queue import enqueue_mutation
from decnet_lib.mutations.reconciler import reconcile_topologies
from decnet_lib.topology.loader import decode_document
from decnet_lib.topology.resolve import resolve
from decnet_lib.validation.validate import validate_data

pytest_plugins = ["docker_support"]


def maze(name: str, s: list[ipaddress.IPv4Network]) -> str:
    return f"""
name: {name}
emulation: light  # the busybox emulators (banners set by service_config)
lans:
  - {{name: dmz, subnet: {s[0]}, dmz: true}}
  - {{name: office, subnet: {s[1]}}}
  - {{name: vault, subnet: {s[2]}}}
deckies:
  - name: gw
    services: [ssh, http, telnet]
    lans: {{dmz: null, office: null}}
    forwards_l3: true
    service_config:
      ssh: {{banner: "SSH-2.0-OpenSSH_8.4p1 e2e"}}
      http: {{server_header: "nginx/1.18.0 e2e"}}
  - name: files
    services: [ftp]
    lans: {{office: null, vault: null}}
    forwards_l3: true
  - name: db
    services: [mysql]
    lans: {{vault: null}}
"""


def probe_script(target: str) -> str:
    return "\n".join([
        "cd /tmp",
        f"{{ printf 'SSH-2.0-e2e_client\\r\\n'; sleep 2; }} | timeout 5 nc {target} 22 "
        "> ssh.out &",
        f"{{ printf 'GET / HTTP/1.0\\r\\n\\r\\n'; sleep 2; }} | timeout 5 nc {target} 80 "
        "> http.out &",
        f"{{ sleep 1; printf 'root\\r\\ntoor\\r\\n'; sleep 2; }} | timeout 5 nc {target} 23 "
        "> telnet.out &",
        "wait",
        "for f in ssh http telnet; do echo \"@@@$f\"; cat $f.out; echo; done",
    ])


def wait_for(predicate, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.3)


def ids_of(client: DockerClient, topology_id: str, env) -> dict[str, str]:
    return env.container_ids(topology_id)


def test_deploy_probe_log_mutate_teardown(
    docker_env, agent_url: str, master: Engine, tmp_path: Path
) -> None:
    client = docker_env.client
    build_images(client)
    subnets = docker_env.subnets(3)
    doc, issues = validate_data(decode_document(maze("e2e", subnets).encode()))
    assert doc is not None, issues
    resolved = resolve(doc)
    docker_env.topology_ids.append(resolved.id)
    with new_session(master) as session:
        create_topology(session, resolved)
        session.commit()

    events: list[tuple[str, dict]] = []
    set_publisher(lambda topic, payload: events.append((topic, payload)))
    try:
        result = lifecycle.deploy(master, "e2e", agent=agent_url)
    finally:
        set_publisher(None)
    assert result.status == "active", result.message
    assert ("decky.gw.state", "running") in [(t, p.get("state")) for t, p in events]
    gw_ip = resolved.decky("gw").lans["dmz"]

    client_ip = str(subnets[0].network_address + 250)
    network = client.networks.get(network_name(resolved.id, "dmz"))
    probe = client.containers.create(
        "decnet/base:latest", ["/bin/busybox", "sh", "-c", probe_script(gw_ip)],
        labels={**docker_env.owner_labels, "decnet.managed": "true"}, network=network.name,
    )
    network.disconnect(probe)
    network.connect(probe, ipv4_address=client_ip)
    probe.start()
    probe.wait(timeout=30)
    output = probe.logs().decode(errors="replace")
    assert "SSH-2.0-OpenSSH_8.4p1 e2e" in output
    assert "Server: nginx/1.18.0 e2e" in output
    assert "login:" in output

    log_file = tmp_path / "agent-decky.log"

    def logged() -> list[str]:
        if not log_file.exists():
            return []
        lines = [line for line in log_file.read_text().splitlines()
                 if f'src_ip="{client_ip}"' in line]
        services = {svc for svc in ("ssh", "http", "telnet") if any(
            f'service="{svc}"' in line for line in lines)}
        return lines if services == {"ssh", "http", "telnet"} else []

    lines = wait_for(logged)
    assert lines, "the attempts did not reach the agent log"
    assert all(line.startswith("<") and " decnet " in line for line in lines)

    # live mutations change only what they touch
    push = lifecycle.push_hook()
    before = docker_env.container_ids(resolved.id)
    with new_session(master) as session:
        enqueue_mutation(session, "e2e", "add_decky",
                         {"name": "extra", "lan": "office", "services": ["redis"]})
        session.commit()
    reconcile_topologies(master, push=push)
    after = docker_env.container_ids(resolved.id)
    added = set(after) - set(before)
    assert {name.rsplit("-", 1)[-1] for name in added} >= {"extra", "redis"}
    assert all(after[name] == before[name] for name in before)

    before = after
    with new_session(master) as session:
        enqueue_mutation(session, "e2e", "update_decky", {"decky": "files", "services": ["smb"]})
        enqueue_mutation(session, "e2e", "remove_decky", {"decky": "extra"})
        session.commit()
    reconcile_topologies(master, push=push)
    after = docker_env.container_ids(resolved.id)
    touched = {name for name in before if "-files" in name or "-extra" in name}
    assert all(after[name] == before[name] for name in before if name not in touched)
    assert not any("-extra" in name for name in after)
    assert any(name.endswith("-files-smb") for name in after)
    assert not any(name.endswith("-files-ftp") for name in after)

    events.clear()
    set_publisher(lambda topic, payload: events.append((topic, payload)))
    try:
        result = lifecycle.teardown(master, "e2e")
    finally:
        set_publisher(None)
    assert result.status == "torn_down", result.message
    assert {(t, p["state"]) for t, p in events} == {
        ("decky.gw.state", "removed"), ("decky.files.state", "removed"),
        ("decky.db.state", "removed")}
    assert docker_env.labelled_count(resolved.id) == (0, 0)
