"""A maze an attacker can walk (issue 13.1 and 13.4), on the real engine through a real agent.

A two-LAN maze with the full emulators: `gw` bridges the DMZ and the office LAN and runs the
real OpenSSH sshd and telnet, each with an `accept` credential (footholds); `ws` sits only on
the office LAN and runs redis. A probe container on the DMZ is refused a wrong password, then
logs in to `gw` with OpenSSH's own `ssh` client, runs `ip addr` (the office LAN is there)
and reaches `ws`'s redis from that shell (it answers -NOAUTH). The same walk over telnet
gets a real bash. The agent's log then holds the failed and the accepted logins, the
commands with the session id of their login, and `ws`'s connection from `gw`'s office
address. `docker inspect` shows the foothold hardened; teardown leaves nothing labelled.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from maze_walk import (
    PROBE_IMAGE,
    agent_lines,
    attacker_script,
    listening,
    maze,
    sd_param,
)
from sqlalchemy import Engine
from telnet_client import TelnetClient

from decnet_lib.db import create_topology, new_session
from decnet_lib.deploy.hardening import SSHD_CAPS
from decnet_lib.deploy.naming import network_name, service_container_name
from decnet_lib.images.build import build_images
from decnet_lib.master import lifecycle
from decnet_lib.topology.loader import decode_document
from decnet_lib.topology.resolve import resolve
from decnet_lib.validation.validate import validate_data

if TYPE_CHECKING:
    from docker_support import DockerEnv

pytest_plugins = ["docker_support"]
pytestmark = pytest.mark.slow
def walk_over_telnet(gw_ip: str, ws_ip: str, gw_office_ip: str) -> None:
    """From the host on the DMZ: log in to gw's telnet, look around, reach ws's redis."""
    assert listening(gw_ip, 23)
    client = TelnetClient(gw_ip, 23)
    try:
        client.expect(b"login: ")
        client.type_line("ops")
        client.expect(b"Password: ")
        client.type_line("changeme")
        client.expect(b"$ ", timeout=20)
        client.type_line("ip addr")
        assert f"inet {gw_office_ip}/".encode() in client.expect(b"$ ")
        client.type_line(f"printf 'PING\\r\\n' | nc -w 3 {ws_ip} 6379")
        assert b"-NOAUTH Authentication required." in client.expect(b"$ ")
        client.type_line("exit")
    finally:
        client.close()


def test_an_attacker_walks_from_the_dmz_through_a_foothold_to_the_office(
    docker_env: DockerEnv, agent_url: str, master: Engine, tmp_path: Path
) -> None:
    env = docker_env
    client = env.client
    build_images(client, services=["ssh", "telnet", "redis"], modes=("full",))
    dmz, office = env.subnets(2)
    doc, issues = validate_data(decode_document(maze("walk", str(dmz), str(office)).encode()))
    assert doc is not None, issues
    resolved = resolve(doc)
    env.topology_ids.append(resolved.id)
    with new_session(master) as session:
        create_topology(session, resolved)
        session.commit()
    result = lifecycle.deploy(master, "walk", agent=agent_url)
    assert result.status == "active", result.message

    gw_ip = resolved.decky("gw").lans["dmz"]
    gw_office_ip = resolved.decky("gw").lans["office"]
    ws_ip = resolved.decky("ws").lans["office"]
    attacker_ip = str(dmz.network_address + 250)
    network = client.networks.get(network_name(resolved.id, "dmz"))
    probe = client.containers.create(
        PROBE_IMAGE, ["/bin/sh", "-c", attacker_script(gw_ip, ws_ip)], entrypoint=[],
        labels={**env.owner_labels, "decnet.managed": "true"}, network=network.name)
    network.disconnect(probe)
    network.connect(probe, ipv4_address=attacker_ip)
    foothold = client.containers.get(service_container_name(resolved.id, "gw", "ssh"))
    assert listening(gw_ip, 22), foothold.logs()[-2000:]  # sshd makes its host keys first
    probe.start()
    probe.wait(timeout=90)
    output = probe.logs().decode(errors="replace")

    # what the attacker sees: refused, then a shell on the office LAN and the next decky
    assert "@@@1=255" in output, output
    assert "@@@2=0" in output, output
    assert f"inet {gw_office_ip}/" in output, output
    assert "-NOAUTH Authentication required." in output, output  # redis answered

    # what the agent recorded, with the attacker's address and one session throughout
    log_file = tmp_path / "agent-decky.log"
    lines = agent_lines(log_file, 'success="false"', 'success="true"', 'cmd="ip addr"',
                        f'cmd="nc -w 3 {ws_ip} 6379"', f'src_ip="{gw_office_ip}"')
    ours = [line for line in lines if f'src_ip="{attacker_ip}"' in line]
    logins = [line for line in ours if 'event="login"' in line]
    assert any('success="false"' in line and 'password="wrong-guess"' in line
               for line in logins), logins
    (accepted,) = [line for line in logins if 'success="true"' in line]
    assert 'user="svc"' in accepted
    session_id = sd_param(accepted, "session")
    assert session_id, accepted
    commands = [sd_param(line, "cmd") for line in ours
                if 'event="command"' in line and sd_param(line, "session") == session_id]
    assert "ip addr" in commands, commands
    assert f"nc -w 3 {ws_ip} 6379" in commands, commands
    inner = [line for line in lines
             if f'src_ip="{gw_office_ip}"' in line and 'service="redis"' in line]
    assert any('event="connect"' in line for line in inner), inner
    assert any('decky="ws"' in line for line in inner), inner

    # telnet's foothold: a real bash on a pty, every typed line recorded
    walk_over_telnet(gw_ip, ws_ip, gw_office_ip)
    host_ip = str(dmz.network_address + 1)  # the host, on the DMZ bridge
    lines = agent_lines(log_file, 'service="telnet"', 'cmd="ip addr"', 'command="ip addr"')
    telnet = [line for line in lines
              if 'service="telnet"' in line and f'src_ip="{host_ip}"' in line]
    (accepted,) = [line for line in telnet if 'event="login"' in line]
    assert 'success="true"' in accepted and 'username="ops"' in accepted, accepted
    typed = [sd_param(line, "command") for line in telnet if 'event="command"' in line
             and sd_param(line, "session") == sd_param(accepted, "session")]
    assert "ip addr" in typed and f"printf 'PING\\r\\n' | nc -w 3 {ws_ip} 6379" in typed, typed

    # the foothold is hardened like every decoy container
    attrs = client.api.inspect_container(foothold.id)
    host = attrs["HostConfig"]
    assert host["CapDrop"] == ["ALL"] and host["ReadonlyRootfs"] is True
    assert sorted(host["CapAdd"]) == sorted(SSHD_CAPS)
    assert "no-new-privileges" in " ".join(host["SecurityOpt"] or [])
    assert host["PidsLimit"] and host["Memory"]

    assert lifecycle.teardown(master, "walk").status == "torn_down"
    assert env.labelled_count(resolved.id) == (0, 0)
