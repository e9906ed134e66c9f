"""Data control: a decky answers anyone who reaches it, but opens connections only inside
its own topology's LANs (DESIGN.md, "containment").

The deployer owns two iptables chains per topology, created before any of its containers
starts and removed after the last is gone; every rule, the jumps included, carries the
comment `decnet.topology.id=<id>`, so teardown and the reaper find them by label and never
touch a rule that is not theirs:

- `DN-<id12>-FWD`, jumped to from DOCKER-USER for traffic *from* the topology's subnets
  (Docker enables br_netfilter, so same-bridge traffic crosses FORWARD too): replies pass,
  new connections to the topology's own subnets pass, everything else is dropped (another
  topology, the outside world);
- `DN-<id12>-IN`, jumped to from INPUT for packets from those subnets to the host itself
  (any of its addresses: the LAN gateways, the uplink, the agent's port): replies to what
  the host opened pass, everything else is dropped.

Deckies homed on a non-DMZ LAN also lose their default route (removed in the base
container's network namespace from the host with nsenter: no capability is left to them).
Debian 12's `iptables` is iptables-nft, the backend Docker 20.10 programs too.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from decnet_lib.deploy.failures import DeployError

CHAIN_PREFIX = "DN-"
COMMENT_KEY = "decnet.topology.id"
_COMMENT = re.compile(r'--comment "?decnet\.topology\.id=([A-Za-z0-9_.-]+)"?')


class ContainmentError(DeployError):
    """The host's firewall could not be changed (iptables missing or refusing)."""

    code = "CONTAINMENT_FAILED"


def chains(topology_id: str) -> tuple[str, str]:
    """(forward chain, input chain) of one topology."""
    short = topology_id[:12]
    return f"{CHAIN_PREFIX}{short}-FWD", f"{CHAIN_PREFIX}{short}-IN"


def comment(topology_id: str) -> list[str]:
    return ["-m", "comment", "--comment", f"{COMMENT_KEY}={topology_id}"]


@dataclass
class Firewall:
    """iptables, driven by subprocess; every call checked, errors one line."""

    binary: str = "iptables"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        path = shutil.which(self.binary)
        if path is None:
            raise ContainmentError(f"{self.binary} is not installed: containment needs it "
                                   "(apt-get install -y iptables)")
        result = subprocess.run([path, "-w", "10", *args], capture_output=True, text=True,
                                timeout=60, check=False)
        if check and result.returncode != 0:
            detail = " ".join((result.stderr or result.stdout).split())[:300]
            raise ContainmentError(f"{self.binary} {' '.join(args)}: {detail}")
        return result

    def _rules(self, chain: str) -> list[str]:
        result = self._run("-S", chain, check=False)
        return result.stdout.splitlines() if result.returncode == 0 else []

    def _has_chain(self, chain: str) -> bool:
        return self._run("-S", chain, check=False).returncode == 0

    # -- one topology -------------------------------------------------------------------
    def apply(self, topology_id: str, subnets: Sequence[str]) -> None:
        """Create or refresh the topology's chains and jumps (idempotent)."""
        forward, into_host = chains(topology_id)
        label = comment(topology_id)
        self.remove_jumps(topology_id)
        for chain in (forward, into_host):
            if self._has_chain(chain):
                self._run("-F", chain)
            else:
                self._run("-N", chain)
        replies = ["-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED"]
        self._run("-A", forward, *replies, *label, "-j", "RETURN")
        for subnet in subnets:
            self._run("-A", forward, "-d", subnet, *label, "-j", "RETURN")
        self._run("-A", forward, *label, "-j", "DROP")
        self._run("-A", into_host, *replies, *label, "-j", "RETURN")
        self._run("-A", into_host, *label, "-j", "DROP")
        if not self._has_chain("DOCKER-USER"):
            raise ContainmentError("the DOCKER-USER chain is missing: is Docker's iptables "
                                   "integration on?")
        for subnet in subnets:
            self._run("-I", "DOCKER-USER", "1", "-s", subnet, *label, "-j", forward)
            self._run("-I", "INPUT", "1", "-s", subnet, *label, "-j", into_host)

    def remove_jumps(self, topology_id: str) -> None:
        """Delete the jumps carrying this topology's label from DOCKER-USER and INPUT."""
        for chain in ("DOCKER-USER", "INPUT"):
            for rule in self._rules(chain):
                if labelled(rule) == topology_id and rule.startswith(f"-A {chain} "):
                    self._run("-D", *split_rule(rule)[1:])

    def remove(self, topology_id: str) -> None:
        """Remove every rule and chain of the topology (nothing else)."""
        self.remove_jumps(topology_id)
        for chain in chains(topology_id):
            if self._has_chain(chain):
                self._run("-F", chain)
                self._run("-X", chain)

    def topologies(self) -> set[str]:
        """Topology ids that have rules on this host (from the labels)."""
        found = set()
        for chain in ("DOCKER-USER", "INPUT"):
            found.update(t for t in (labelled(rule) for rule in self._rules(chain)) if t)
        for line in self._run("-S", check=False).stdout.splitlines():
            if line.startswith(f"-N {CHAIN_PREFIX}"):
                for rule in self._rules(line.split()[1]):
                    topology = labelled(rule)
                    if topology:
                        found.add(topology)
                        break
        return found


def labelled(rule: str) -> str | None:
    """The topology id in a rule's decnet comment, if any."""
    match = _COMMENT.search(rule)
    return match.group(1) if match else None


def split_rule(rule: str) -> list[str]:
    """`-A CHAIN ...` as arguments (iptables -S quotes comments with double quotes)."""
    import shlex

    return shlex.split(rule)


def drop_default_route(pids: Iterable[int]) -> None:
    """Remove the default route in each process's network namespace (internal deckies)."""
    nsenter = shutil.which("nsenter")
    if nsenter is None:
        raise ContainmentError("nsenter is not installed (util-linux): internal deckies "
                               "would keep a default route")
    for pid in pids:
        result = subprocess.run([nsenter, "-t", str(pid), "-n", "ip", "route", "del",
                                 "default"], capture_output=True, text=True, timeout=30,
                                check=False)
        gone = "No such process" in result.stderr or "Cannot find device" in result.stderr
        if result.returncode != 0 and not gone:
            raise ContainmentError(f"cannot remove the default route of process {pid}: "
                                   f"{' '.join(result.stderr.split())[:200]}")
