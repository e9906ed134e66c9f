"""A two-LAN maze with a foothold and the attacker who walks it (shared by the walk tests).

`gw` bridges the DMZ and the office LAN and runs the real OpenSSH sshd and telnet, each with
an `accept` credential; `ws` sits only on the office LAN and runs redis. A probe container
on the DMZ (OpenSSH's client, netcat) plays the attacker.
"""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path

PROBE_IMAGE = "decnet/svc-ssh:latest"  # Debian with OpenSSH's client and netcat-openbsd
SSH_OPTIONS = ("-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
               "-o PreferredAuthentications=password -o PubkeyAuthentication=no "
               "-o NumberOfPasswordPrompts=1 -o ConnectTimeout=10")
WALK_PASSWORD = "Winter2024!"  # gw's ssh accept credential (user svc)


def maze(name: str, dmz: str, office: str) -> str:
    return f"""
name: {name}
lans:
  - {{name: dmz, subnet: {dmz}, dmz: true}}
  - {{name: office, subnet: {office}}}
deckies:
  - name: gw
    services: [ssh, telnet]
    lans: {{dmz: null, office: null}}
    service_config:
      ssh: {{accept: [{{user: svc, password: "{WALK_PASSWORD}"}}]}}
      telnet: {{accept: [{{user: ops, password: "changeme"}}]}}
  - {{name: ws, services: [redis], lans: {{office: null}}}}
"""


def ssh_script(gw_ip: str, logins: list[tuple[str, str]]) -> str:
    """A shell script logging in to `gw` as svc once per (password, remote command), each
    followed by `@@@<n>=<ssh's exit status>` (n from 1).

    OpenSSH reads the password from SSH_ASKPASS (forced): no terminal, no sshpass needed.
    """
    lines = [
        # the image keeps its account files for the ssh service's supervisor to seed
        "mkdir -p /run/decnet/etc && cp -a /usr/share/decnet/etc/. /run/decnet/etc/",
        "printf '#!/bin/sh\\necho \"$PW\"\\n' > /tmp/askpass; chmod +x /tmp/askpass",
        "export SSH_ASKPASS=/tmp/askpass SSH_ASKPASS_REQUIRE=force",
    ]
    for number, (password, command) in enumerate(logins, 1):
        lines.append(f"PW='{password}' ssh {SSH_OPTIONS} svc@{gw_ip} \"{command}\"; "
                     f"echo \"@@@{number}=$?\"")
    return "\n".join(lines)


def attacker_script(gw_ip: str, ws_ip: str) -> str:
    """What the probe runs: a wrong password (`@@@1=255`), then the accepted one and a walk
    inward (`@@@2=0`): `ip addr`, then `ws`'s redis from the foothold."""
    inner = f"ip addr; printf 'PING\\r\\n' | nc -w 3 {ws_ip} 6379"
    return ssh_script(gw_ip, [("wrong-guess", "true"), (WALK_PASSWORD, inner)])


def agent_lines(log_file: Path, *needles: str, timeout: float = 30.0) -> list[str]:
    """The agent log's lines once every needle is in one of them (or what is there)."""
    deadline = time.monotonic() + timeout
    while True:
        lines = log_file.read_text().splitlines() if log_file.exists() else []
        if all(any(needle in line for line in lines) for needle in needles):
            return lines
        if time.monotonic() > deadline:
            return lines
        time.sleep(0.3)


def listening(ip: str, port: int, within: float = 120.0) -> bool:
    """Whether ip:port accepts a connection within `within` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            socket.create_connection((ip, port), timeout=2).close()
            return True
        except OSError:
            time.sleep(0.5)
    return False


def sd_param(line: str, name: str) -> str:
    """One structured-data parameter of an RFC 5424 line, backslash escapes undone."""
    match = re.search(rf'\b{name}="((?:[^"\\]|\\.)*)"', line)
    return re.sub(r"\\(.)", r"\1", match.group(1)) if match else ""
