"""The containment rules of one topology as data (pure: no iptables call).

`desired(topology_id, subnets)` is what the host must hold; `parse(iptables -S output)`
is what it holds (only the rules labelled with a topology id); `changes` compares both
and `restore_script` turns the difference into one `iptables-restore --noflush`
transaction, so a refresh never leaves a moment without containment. Rules are written in
the canonical form `iptables -S` prints, so comparing them is comparing text.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

CHAIN_PREFIX = "DN-"
COMMENT_KEY = "decnet.topology.id"
HOOKS = ("DOCKER-USER", "INPUT")  # the built-in chains our jumps live in
REPLIES = ("-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED")
_COMMENT = re.compile(r'--comment "?decnet\.topology\.id=([A-Za-z0-9_.-]+)"?')

Rule = tuple[str, ...]  # the arguments after `-A` (chain first), as `iptables -S` prints


def chains(topology_id: str) -> tuple[str, str]:
    """(forward chain, input chain) of one topology."""
    short = topology_id[:12]
    return f"{CHAIN_PREFIX}{short}-FWD", f"{CHAIN_PREFIX}{short}-IN"


def comment(topology_id: str) -> tuple[str, ...]:
    return ("-m", "comment", "--comment", f"{COMMENT_KEY}={topology_id}")


def labelled(rule: str) -> str | None:
    """The topology id in a rule's decnet comment, if any."""
    match = _COMMENT.search(rule)
    return match.group(1) if match else None


@dataclass(frozen=True)
class Ruleset:
    """The rules of one topology: its two chains' bodies and the jumps into them."""

    topology_id: str
    bodies: dict[str, tuple[Rule, ...]] = field(default_factory=dict)  # chain -> rules
    jumps: frozenset[Rule] = frozenset()  # rules in DOCKER-USER and INPUT

    @property
    def empty(self) -> bool:
        return not (self.bodies or self.jumps)


def desired(topology_id: str, subnets: Sequence[str]) -> Ruleset:
    """Forwarded packets from the topology: replies and its own subnets pass, the rest is
    dropped; packets to the host itself: replies pass, the rest is dropped."""
    forward, into_host = chains(topology_id)
    label = comment(topology_id)
    fwd = [(forward, *REPLIES, *label, "-j", "RETURN")]
    fwd += [(forward, "-d", subnet, *label, "-j", "RETURN") for subnet in subnets]
    fwd.append((forward, *label, "-j", "DROP"))
    into = [(into_host, *REPLIES, *label, "-j", "RETURN"), (into_host, *label, "-j", "DROP")]
    jumps = {(hook, "-s", subnet, *label, "-j", target)
             for subnet in subnets
             for hook, target in (("DOCKER-USER", forward), ("INPUT", into_host))}
    return Ruleset(topology_id, {forward: tuple(fwd), into_host: tuple(into)},
                   frozenset(jumps))


def parse(listing: str) -> dict[str, Ruleset]:
    """The labelled rules of every topology in an `iptables -S` listing of the filter table.

    A chain of ours (`DN-...`) belongs to the topology named by its rules' labels; an empty
    one (a crash between creating and filling it) to the topology of its name's prefix.
    """
    bodies: dict[str, list[Rule]] = {}
    owners: dict[str, str] = {}
    jumps: dict[str, set[Rule]] = {}
    for line in listing.splitlines():
        if line.startswith(f"-N {CHAIN_PREFIX}"):
            bodies.setdefault(line.split()[1], [])
            continue
        if not line.startswith("-A "):
            continue
        topology = labelled(line)
        rule = tuple(shlex.split(line)[1:])
        if rule[0].startswith(CHAIN_PREFIX):
            bodies.setdefault(rule[0], []).append(rule)
            if topology:
                owners.setdefault(rule[0], topology)
        elif topology and rule[0] in HOOKS:
            jumps.setdefault(topology, set()).add(rule)
    found: dict[str, Ruleset] = {}
    for topology in {*owners.values(), *jumps}:
        mine = {chain: tuple(rules) for chain, rules in bodies.items()
                if owners.get(chain) == topology}
        found[topology] = Ruleset(topology, mine, frozenset(jumps.get(topology, ())))
    return found


def owned_chains(listing: str, topology_id: str) -> list[str]:
    """Chains named for this topology, labelled or not (an empty one included)."""
    names = chains(topology_id)
    return [line.split()[1] for line in listing.splitlines()
            if line.startswith("-N ") and line.split()[1] in names]


def changes(want: Ruleset, have: Ruleset | None) -> str | None:
    """'create' when nothing is there, 'update' when something differs, else None."""
    if have is None or have.empty:
        return "create"
    return None if (want.bodies, want.jumps) == (have.bodies, have.jumps) else "update"


def _line(verb: str, rule: Iterable[str]) -> str:
    return " ".join((verb, *(shlex.quote(part) for part in rule)))


def restore_script(want: Ruleset | None, have: Ruleset | None,
                   existing_chains: Iterable[str] = ()) -> str:
    """One `iptables-restore --noflush` transaction from `have` to `want` (None: remove).

    Declaring a chain (`:NAME - [0:0]`) creates it or flushes it; stale jumps are deleted
    and missing ones inserted at the top of their hook, all in one commit.
    """
    lines = ["*filter"]
    current = set(have.jumps) if have else set()
    wanted = set(want.jumps) if want else set()
    ours = {*(have.bodies if have else ()), *existing_chains}
    if want is not None:
        for chain in want.bodies:
            lines.append(f":{chain} - [0:0]")
        for rules in want.bodies.values():
            lines += [_line("-A", rule) for rule in rules]
    lines += [_line("-D", rule) for rule in sorted(current - wanted)]
    lines += [_line("-I", (rule[0], "1", *rule[1:])) for rule in sorted(wanted - current)]
    if want is None:
        for chain in sorted(ours):
            lines += [f":{chain} - [0:0]", f"-X {chain}"]
    lines.append("COMMIT")
    return "\n".join(lines) + "\n"
