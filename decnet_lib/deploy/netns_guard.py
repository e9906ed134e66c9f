"""An egress guard inside a decky's own network namespace, for the LANs the host's
containment chains cannot see.

A macvlan or ipvlan LAN hands a container's frames straight to the parent interface: they
never cross the host's FORWARD or INPUT chains. For a decky on such a LAN the deployer
also fills the filter table of the decky's network namespace (from the host, with nsenter:
the decky holds no capability to change it): replies, loopback (Docker's embedded DNS)
and the topology's own subnets pass on OUTPUT and FORWARD, the rest is dropped.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence

from decnet_lib.deploy.failures import DeployError


def guard_script(subnets: Sequence[str]) -> str:
    """An `iptables-restore` input replacing the namespace's filter table."""
    lines = ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]"]
    for chain in ("OUTPUT", "FORWARD"):
        lines.append(f"-A {chain} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
        if chain == "OUTPUT":
            lines.append("-A OUTPUT -o lo -j ACCEPT")
        lines += [f"-A {chain} -d {subnet} -j ACCEPT" for subnet in subnets]
        lines.append(f"-A {chain} -j DROP")
    return "\n".join([*lines, "COMMIT"]) + "\n"


def install_guard(pid: int, subnets: Sequence[str], binary: str = "iptables") -> None:
    """Fill the filter table of process `pid`'s network namespace with the guard."""
    nsenter, restore = shutil.which("nsenter"), shutil.which(f"{binary}-restore")
    if nsenter is None or restore is None:
        raise DeployError(f"nsenter and {binary}-restore are needed to contain deckies on "
                          "macvlan/ipvlan LANs")
    result = subprocess.run([nsenter, "-t", str(pid), "-n", restore, "-w", "10"],
                            input=guard_script(subnets), capture_output=True, text=True,
                            timeout=60, check=False)
    if result.returncode != 0 and "No such process" not in result.stderr:
        raise DeployError(f"cannot guard the network namespace of process {pid}: "
                          f"{' '.join(result.stderr.split())[:200]}")
