"""Random maze generator: a DMZ, a LAN tree bridged by deckies, optional cross edges.

`generate(params)` returns a plain topology document (every IP explicit) that always passes
validation. The same parameters and seed give the same document; `dump_document` serialises
it byte-identically, as YAML or JSON.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Network, ip_network
from pathlib import Path
from typing import Any, Literal

import orjson
import yaml

from decnet_lib.catalog import SERVICES
from decnet_lib.topology.addressing import MIN_PREFIX
from decnet_lib.topology.footholds import plant_footholds
from decnet_lib.topology.names import NAME_RULE, is_valid_name
from decnet_lib.topology.safe_yaml import gc_paused

Format = Literal["yaml", "json"]

DMZ_NAME = "dmz"
MAX_LANS = 65_536
MAX_DECKIES = 1_000_000
RANDOM_SERVICES = (1, 3)  # a random decky runs 1 to 3 services from the catalog
_CATALOG: tuple[str, ...] = tuple(SERVICES)
_YAML_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_probability(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0.0 <= value <= 1.0
    )


def count_lans(depth: int, branching: int, limit: int = MAX_LANS) -> int:
    """LANs of a tree of this depth and branching (the DMZ included); stops past `limit`."""
    total, level = 1, 1
    for _ in range(depth):
        level *= branching
        total += level
        if total > limit:
            return total
    return total


@dataclass(frozen=True, slots=True)
class GeneratorParams:
    """What `generate` builds; invalid values raise ValueError at construction."""

    name: str
    depth: int = 2
    branching: int = 2
    deckies_min: int = 1
    deckies_max: int = 3
    cross_edge_p: float = 0.0
    services: tuple[str, ...] | None = None
    seed: int | None = None
    base: str = "172.20.0.0/14"
    prefix: int = 24
    expose_p: float = 0.0
    footholds: bool = False  # ssh logins on the bridges from the DMZ to the deepest LAN

    def __post_init__(self) -> None:
        if self.services is not None and not isinstance(self.services, tuple):
            if isinstance(self.services, str):
                raise ValueError("services must be a sequence of service names")
            object.__setattr__(self, "services", tuple(self.services))
        problem = self.problem()
        if problem:
            raise ValueError(problem)

    @property
    def pool(self) -> IPv4Network:
        """The address pool LAN subnets are carved from."""
        return _parse_pool(self.base)

    @property
    def lan_count(self) -> int:
        """Number of LANs, the DMZ included."""
        return count_lans(self.depth, self.branching)

    def problem(self) -> str | None:
        """The first thing wrong with these parameters, or None."""
        for check in (self._shape_problem, self._services_problem, self._size_problem):
            message = check()
            if message:
                return message
        return None

    def _shape_problem(self) -> str | None:
        if not is_valid_name(self.name):
            return f"topology name {self.name!r} is not allowed: {NAME_RULE}"
        for field in ("depth", "branching", "deckies_min", "deckies_max", "prefix"):
            if not _is_int(getattr(self, field)):
                return f"{field} must be an integer, got {getattr(self, field)!r}"
        if self.depth < 0:
            return f"depth must be 0 or more, got {self.depth}"
        if self.branching < 1:
            return f"branching must be 1 or more, got {self.branching}"
        if self.deckies_min < 0 or self.deckies_max < 1:
            return (f"deckies per LAN must be 0 or more (min) and 1 or more (max), got "
                    f"{self.deckies_min}-{self.deckies_max}")
        if self.deckies_min > self.deckies_max:
            return (f"deckies per LAN: min {self.deckies_min} is greater than "
                    f"max {self.deckies_max}")
        for field in ("cross_edge_p", "expose_p"):
            if not _is_probability(getattr(self, field)):
                return f"{field} must be a number between 0 and 1, got {getattr(self, field)!r}"
        if self.seed is not None and not _is_int(self.seed):
            return f"seed must be an integer, got {self.seed!r}"
        return None

    def _services_problem(self) -> str | None:
        if self.services is None:
            return None
        for service in self.services:
            if service not in SERVICES:
                return (f"unknown service {service!r} (known: "
                        f"{', '.join(sorted(SERVICES))})")
        if len(set(self.services)) != len(self.services):
            return "services are listed twice"
        return None

    def _size_problem(self) -> str | None:
        try:
            pool = self.pool
        except ValueError as exc:
            return str(exc)
        if not pool.prefixlen <= self.prefix <= MIN_PREFIX:
            return (f"LAN prefix /{self.prefix} must be between the pool's "
                    f"/{pool.prefixlen} and /{MIN_PREFIX}")
        lans = self.lan_count
        if lans > MAX_LANS:
            return (f"depth {self.depth} and branching {self.branching} give more than "
                    f"{MAX_LANS} LANs")
        if lans * self.deckies_max > MAX_DECKIES:
            return (f"{lans} LANs of up to {self.deckies_max} deckies exceed the limit of "
                    f"{MAX_DECKIES} deckies")
        slots = 2 ** (self.prefix - pool.prefixlen)
        if slots < lans:
            return (f"pool {pool} holds {slots} /{self.prefix} subnets, fewer than the "
                    f"{lans} LANs of depth {self.depth} and branching {self.branching}")
        usable = 2 ** (32 - self.prefix) - 3
        bridges = self.branching if self.depth > 0 else 0
        if usable < self.deckies_max + bridges:
            return (f"a /{self.prefix} LAN has {usable} usable addresses, fewer than "
                    f"{self.deckies_max} deckies plus {bridges} bridges from child LANs")
        return None


def _parse_pool(text: str) -> IPv4Network:
    try:
        pool = ip_network(text, strict=True)
    except (ValueError, TypeError):
        raise ValueError(
            f"pool {text!r} is not an IPv4 network in CIDR form with zero host bits"
        ) from None
    if not isinstance(pool, IPv4Network):
        raise ValueError(f"pool {text!r} is not an IPv4 network")
    return pool


def parse_range(text: str) -> tuple[int, int]:
    """Parse "MIN-MAX" (or a single "N") into (min, max); ValueError when malformed."""
    low, sep, high = str(text).strip().partition("-")
    try:
        pair = (int(low), int(high) if sep else int(low))
    except ValueError:
        raise ValueError(f"expected MIN-MAX with whole numbers (e.g. 2-5), got {text!r}") from None
    if pair[0] < 0:
        raise ValueError(f"range {text!r}: MIN must be 0 or more")
    if pair[0] > pair[1]:
        raise ValueError(f"range {text!r}: MIN {pair[0]} is greater than MAX {pair[1]}")
    return pair


def _dotted(value: int) -> str:
    return f"{value >> 24}.{(value >> 16) & 255}.{(value >> 8) & 255}.{value & 255}"


def _merged_spans(subnets: Iterable[str | IPv4Network]) -> list[tuple[int, int]]:
    """Sorted, disjoint (first, last) address spans of the IPv4 subnets given."""
    spans = []
    for item in subnets:
        try:
            net = item if isinstance(item, IPv4Network) else ip_network(item, strict=False)
        except (ValueError, TypeError):
            raise ValueError(f"used subnet {item!r} is not a network in CIDR form") from None
        if isinstance(net, IPv4Network):
            spans.append((int(net.network_address), int(net.broadcast_address)))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for first, last in spans:
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(last, merged[-1][1]))
        else:
            merged.append((first, last))
    return merged


def carve_subnets(
    pool: IPv4Network, prefix: int, count: int, used: Iterable[str | IPv4Network] = ()
) -> list[int]:
    """First addresses of `count` /prefix subnets of `pool`, in order, avoiding `used`."""
    size = 2 ** (32 - prefix)
    start, end = int(pool.network_address), int(pool.broadcast_address)
    spans = _merged_spans(used)
    firsts = [span[0] for span in spans]
    found: list[int] = []
    candidate = start
    while len(found) < count and candidate + size - 1 <= end:
        index = bisect_right(firsts, candidate + size - 1) - 1
        if index >= 0 and spans[index][1] >= candidate:  # overlaps a used span
            candidate += -(-(spans[index][1] + 1 - candidate) // size) * size
            continue
        found.append(candidate)
        candidate += size
    if len(found) < count:
        raise ValueError(f"pool {pool} has only {len(found)} free /{prefix} subnets "
                         f"(the others overlap existing topologies); {count} LANs need one each")
    return found


def _lan_parents(depth: int, branching: int) -> list[int]:
    """Parent index of each LAN in breadth-first order; the DMZ (index 0) has -1."""
    parents = [-1]
    level_start, level_end = 0, 1
    for _ in range(depth):
        for parent in range(level_start, level_end):
            parents.extend([parent] * branching)
        level_start, level_end = level_end, len(parents)
    return parents


class _Maze:
    """Mutable state of one generation run: LANs, their next free address, the deckies."""

    def __init__(self, params: GeneratorParams, firsts: list[int], rng: random.Random) -> None:
        self.params = params
        self.rng = rng
        self.names = [DMZ_NAME] + [f"lan-{index}" for index in range(1, len(firsts))]
        self.next_ip = [first + 2 for first in firsts]  # .0 network, .1 gateway
        self.last_ip = [first + 2 ** (32 - params.prefix) - 2 for first in firsts]
        self.homed: list[list[dict[str, Any]]] = [[] for _ in firsts]
        self.deckies: list[dict[str, Any]] = []

    def has_room(self, lan: int) -> bool:
        return self.next_ip[lan] <= self.last_ip[lan]

    def address(self, lan: int) -> str:
        value = self.next_ip[lan]
        self.next_ip[lan] = value + 1
        return _dotted(value)

    def services(self) -> list[str]:
        if self.params.services is not None:
            return list(self.params.services)
        count = self.rng.randint(*RANDOM_SERVICES)
        return [_CATALOG[i] for i in sorted(self.rng.sample(range(len(_CATALOG)), count))]

    def add_deckies(self, lan: int, count: int) -> None:
        for _ in range(count):
            decky = {
                "name": f"decky-{len(self.deckies) + 1}",
                "services": self.services(),
                "lans": {self.names[lan]: self.address(lan)},
                "forwards_l3": False,
                "expose": False,
            }
            self.deckies.append(decky)
            self.homed[lan].append(decky)

    def attach(self, decky: dict[str, Any], lan: int) -> None:
        decky["lans"][self.names[lan]] = self.address(lan)
        decky["forwards_l3"] = True


def _populate(maze: _Maze, parents: list[int]) -> None:
    """Home deckies on every LAN and bridge each child LAN into its parent."""
    params, rng = maze.params, maze.rng
    for lan, parent in enumerate(parents):
        low = params.deckies_min if lan == 0 and len(parents) > 1 else max(params.deckies_min, 1)
        maze.add_deckies(lan, rng.randint(low, params.deckies_max))
        if parent >= 0:
            maze.attach(maze.homed[lan][0], parent)


def _cross_edges(maze: _Maze) -> None:
    """With probability cross_edge_p per LAN, one of its deckies joins another random LAN."""
    p, rng, total = maze.params.cross_edge_p, maze.rng, len(maze.names)
    if p <= 0 or total < 2:
        return
    for lan in range(total):
        if rng.random() >= p or not maze.homed[lan]:
            continue
        decky = maze.homed[lan][rng.randrange(len(maze.homed[lan]))]
        other = rng.randrange(total - 1)
        other += other >= lan
        if maze.names[other] not in decky["lans"] and maze.has_room(other):
            maze.attach(decky, other)


def _expose(maze: _Maze, used_ports: Iterable[tuple[int, str]]) -> None:
    """Expose DMZ-homed deckies with probability expose_p when no host port would collide."""
    p, rng = maze.params.expose_p, maze.rng
    if p <= 0:
        return
    taken = {(int(number), str(protocol)) for number, protocol in used_ports}
    for decky in maze.homed[0]:
        if rng.random() >= p:
            continue
        ports = {(port.number, port.protocol)
                 for service in decky["services"] for port in SERVICES[service].ports}
        if ports and taken.isdisjoint(ports):
            decky["expose"] = True
            taken |= ports


def generate(
    params: GeneratorParams,
    used_subnets: Iterable[str | IPv4Network] = (),
    used_ports: Iterable[tuple[int, str]] = (),
) -> dict[str, Any]:
    """A random, valid topology document; `used_*` come from the other live topologies.

    `used_subnets` are never overlapped; `used_ports` ((port, protocol) pairs already
    published on the host) are never exposed again. Raises ValueError when the pool has
    too few free subnets.
    """
    seed = params.seed if params.seed is not None else random.SystemRandom().randrange(2**63)
    parents = _lan_parents(params.depth, params.branching)
    firsts = carve_subnets(params.pool, params.prefix, len(parents), used_subnets)
    maze = _Maze(params, firsts, random.Random(seed))
    with gc_paused():  # a large acyclic tree: the collector would only rescan it
        _populate(maze, parents)
        _cross_edges(maze)
        _expose(maze, used_ports)
    lans: list[dict[str, Any]] = [
        {"name": name, "subnet": f"{_dotted(first)}/{params.prefix}"}
        for name, first in zip(maze.names, firsts, strict=True)
    ]
    lans[0]["dmz"] = True
    lans[0]["meta"] = {"generator": {"seed": seed}}
    doc = {"name": params.name, "lans": lans, "deckies": maze.deckies}
    if params.footholds:
        plant_footholds(doc, seed)
    return doc


def dump_document(doc: Any, fmt: Format = "yaml") -> str:
    """Serialise a document as YAML or JSON; identical input gives identical text."""
    if fmt == "json":
        return orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode("utf-8") + "\n"
    if fmt == "yaml":
        return yaml.dump(doc, Dumper=_YAML_DUMPER, sort_keys=False,
                         default_flow_style=False, allow_unicode=True)
    raise ValueError(f"unknown format {fmt!r} (expected yaml or json)")


def pick_format(path: str | Path | None) -> Format:
    """JSON for a `.json` path, YAML otherwise (and for stdout)."""
    return "json" if path is not None and Path(path).suffix.lower() == ".json" else "yaml"
