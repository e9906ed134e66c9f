"""What validation needs to know about the world outside the document."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Neighbour:
    """Another live (not torn down) topology on the same agent."""

    name: str
    subnets: tuple[str, ...] = ()
    exposed_ports: tuple[tuple[int, str], ...] = ()  # (port, protocol) published on the host


@dataclass(frozen=True, slots=True)
class ValidationContext:
    """Neighbours whose subnets and published ports a topology must not collide with."""

    neighbours: tuple[Neighbour, ...] = field(default_factory=tuple)


EMPTY_CONTEXT = ValidationContext()
