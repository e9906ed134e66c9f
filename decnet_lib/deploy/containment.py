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

The rules as data are in firewall_rules.py; this module reads them with one `iptables -S`
and changes them with one `iptables-restore --noflush` transaction. Deckies homed on a
non-DMZ LAN also lose their default route (removed in the base container's network
namespace from the host with nsenter: no capability is left to them). Debian 12's
`iptables` is iptables-nft, the backend Docker 20.10 programs too. docs/containment.md
has the whole design.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from decnet_lib.deploy import firewall_rules as R
from decnet_lib.deploy.failures import DeployError

chains = R.chains  # re-exported: the tests and the reaper name the chains through here


class ContainmentError(DeployError):
    """The host's firewall could not be changed (iptables missing or refusing)."""

    code = "CONTAINMENT_FAILED"


@dataclass
class Firewall:
    """iptables (the binary Docker uses), driven by subprocess; errors are one line.

    Reads are one `iptables -S` of the filter table; every change is one
    `iptables-restore --noflush` transaction (atomic: no moment without containment).
    """

    binary: str = "iptables"

    def _path(self, name: str) -> str:
        path = shutil.which(name)
        if path is None:
            raise ContainmentError(f"{name} is not installed: containment needs it "
                                   "(apt-get install -y iptables)")
        return path

    def _run(self, argv: list[str], stdin: str | None = None) -> str:
        result = subprocess.run(argv, input=stdin, capture_output=True, text=True,
                                timeout=60, check=False)
        if result.returncode != 0:
            detail = " ".join((result.stderr or result.stdout).split())[:300]
            raise ContainmentError(f"{' '.join(argv[:3])}: {detail}")
        return result.stdout

    def available(self) -> bool:
        """True when iptables and iptables-restore are installed."""
        return all(shutil.which(name) for name in (self.binary, f"{self.binary}-restore"))

    def listing(self) -> str:
        """`iptables -S` of the filter table (every chain)."""
        return self._run([self._path(self.binary), "-w", "10", "-S"])

    def _restore(self, script: str) -> None:
        self._run([self._path(f"{self.binary}-restore"), "-w", "10", "--noflush"], script)

    # -- one topology -------------------------------------------------------------------
    def pending(self, topology_id: str, subnets: Sequence[str]) -> str | None:
        """What `apply` would do: 'create', 'update' or None (the rules are in place)."""
        have = R.parse(self.listing()).get(topology_id)
        return R.changes(R.desired(topology_id, subnets), have)

    def apply(self, topology_id: str, subnets: Sequence[str]) -> str | None:
        """Create or refresh the topology's chains and jumps in one transaction; returns
        what it did ('create', 'update', or None when they were already right)."""
        listing = self.listing()
        if "-N DOCKER-USER" not in listing.splitlines():
            raise ContainmentError("the DOCKER-USER chain is missing: is Docker's iptables "
                                   "integration on?")
        want = R.desired(topology_id, subnets)
        have = R.parse(listing).get(topology_id)
        action = R.changes(want, have)
        if action is not None:
            self._restore(R.restore_script(want, have))
        return action

    def remove(self, topology_id: str, listing: str | None = None) -> bool:
        """Remove every rule and chain of the topology (nothing else); True if any was there."""
        listing = self.listing() if listing is None else listing
        have = R.parse(listing).get(topology_id)
        existing = R.owned_chains(listing, topology_id)
        if (have is None or have.empty) and not existing:
            return False
        self._restore(R.restore_script(None, have, existing))
        return True

    def topologies(self) -> set[str]:
        """Topology ids that have rules on this host (from the labels)."""
        return set(R.parse(self.listing()))

    def remove_unkept(self, keep: Iterable[str], within: Iterable[str] | None = None) -> list[str]:
        """Remove the rules of every labelled topology not in `keep` (limited to `within`)."""
        listing = self.listing()
        keep, limit = set(keep), None if within is None else set(within)
        gone = sorted(t for t in R.parse(listing)
                      if t not in keep and (limit is None or t in limit))
        for topology_id in gone:
            self.remove(topology_id, listing)
        return gone


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
