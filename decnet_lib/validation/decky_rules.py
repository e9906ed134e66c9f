"""Rules about deckies: addresses, services, service config, exposure and host ports."""

from __future__ import annotations

from collections.abc import Mapping
from ipaddress import IPv4Network

from pydantic import ValidationError

from decnet_lib.catalog import ARCHETYPES, SERVICES
from decnet_lib.issues import Code, Issue, error
from decnet_lib.topology.addressing import parse_ip_int, reserved_ints
from decnet_lib.topology.document import DeckyDoc
from decnet_lib.topology.image_refs import image_problem
from decnet_lib.topology.resolve import effective_services
from decnet_lib.validation.context import ValidationContext


def decky_target(decky: DeckyDoc, *fields: str) -> str:
    return ".".join(("deckies", decky.name, *fields))


def _same(one: tuple[DeckyDoc, int | None], other: tuple[DeckyDoc, int | None]) -> bool:
    """The same decky: the same position when known, else the same object."""
    if one[1] is not None and other[1] is not None:
        return one[1] == other[1]
    return one[0] is other[0]


def _holder(decky: DeckyDoc, index: int | None, other: DeckyDoc) -> str:
    """Name a decky that holds something; its position too when `other` has the same name."""
    if decky.name == other.name and index is not None:
        return f"{decky.name} (deckies[{index}])"
    return decky.name


class AddressBook:
    """Checks each decky address and remembers who holds it (IP_COLLISION).

    Holders are told apart by the decky itself (and its position), not by its name, so two
    deckies sharing a name (DECKY_NAME_DUP) still report their collisions at the same time.
    """

    def __init__(self, networks: Mapping[str, IPv4Network], lan_names: set[str]) -> None:
        self._networks = networks
        self._lan_names = lan_names
        self._reserved = {name: reserved_ints(net) for name, net in networks.items()}
        self._holders: dict[tuple[str, int], tuple[DeckyDoc, int | None]] = {}

    def check(self, decky: DeckyDoc, index: int | None = None) -> list[Issue]:
        """Issues of one decky's addresses; `index` is its position in the document."""
        if not decky.lans:
            return [error(Code.DECKY_ORPHAN, decky_target(decky, "lans"),
                          f"decky {decky.name} is on no LAN")]
        issues: list[Issue] = []
        holder = (decky, index)
        for lan, ip in decky.lans.items():
            if lan not in self._lan_names:
                issues.append(error(Code.IP_UNKNOWN_LAN, decky_target(decky, "lans", lan),
                                    f"no LAN named {lan!r}"))
            elif ip is not None:
                problem = self._check_address(holder, lan, ip)
                if problem is not None:
                    issues.append(error(problem[0], decky_target(decky, "lans", lan),
                                        problem[1]))
        return issues

    def _check_address(
        self, holder: tuple[DeckyDoc, int | None], lan: str, ip: str
    ) -> tuple[Code, str] | None:
        """The code and message of what is wrong with one address, else None."""
        value = parse_ip_int(ip)
        if value is None:
            return Code.IP_MALFORMED, f"{ip!r} is not an IPv4 address"
        reserved = self._reserved.get(lan)
        if reserved is None:
            return None  # the subnet itself is broken and already reported
        if not reserved[0] <= value <= reserved[2]:
            return Code.IP_OUT_OF_SUBNET, f"{ip} is not in {lan}'s subnet {self._networks[lan]}"
        if value in reserved:
            return (Code.IP_RESERVED, f"{ip} is the network, gateway or broadcast address "
                    f"of {self._networks[lan]}")
        owner = self._holders.setdefault((lan, value), holder)
        if owner is not holder and not _same(owner, holder):
            return (Code.IP_COLLISION, f"{ip} on {lan} is already held by "
                    f"{_holder(owner[0], owner[1], holder[0])}")
        return None


def check_services(decky: DeckyDoc) -> tuple[list[str], list[Issue]]:
    """Archetype and service names exist; returns the effective services too."""
    issues = []
    if decky.archetype is not None and decky.archetype not in ARCHETYPES:
        issues.append(error(Code.UNKNOWN_ARCHETYPE, decky_target(decky, "archetype"),
                            f"unknown archetype {decky.archetype!r}"))
    for service in decky.services:
        if service not in SERVICES:
            issues.append(error(Code.UNKNOWN_SERVICE, decky_target(decky, "services"),
                                f"unknown service {service!r}"))
    return effective_services(decky.archetype, decky.services), issues


def check_service_config(decky: DeckyDoc, services: list[str]) -> list[Issue]:
    """Config only for declared services, and valid against that service's schema."""
    issues = []
    declared = set(services)
    for service, config in decky.service_config.items():
        target = decky_target(decky, "service_config", service)
        if service not in declared:
            issues.append(error(Code.SERVICE_CFG_UNDECLARED, target,
                                f"config for {service!r}, which decky {decky.name} "
                                "does not run"))
            continue
        if service not in SERVICES:
            continue  # UNKNOWN_SERVICE already says it
        try:
            SERVICES[service].config.model_validate(config)
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                field = ".".join(str(part) for part in err["loc"]) or service
                issues.append(error(Code.SERVICE_CFG_INVALID, f"{target}.{field}",
                                    f"{err['msg'].lower()}"))
    for service, image in decky.images.items():
        target = decky_target(decky, "images", service)
        if service not in declared:
            issues.append(error(Code.SERVICE_CFG_UNDECLARED, target,
                                f"image for {service!r}, which decky {decky.name} "
                                "does not run"))
        elif service in SERVICES and not image.strip():
            issues.append(error(Code.SERVICE_CFG_INVALID, target, "image must not be empty"))
        elif (problem := image_problem(image)) is not None:
            issues.append(error(Code.IMAGE_INVALID, target, f"{image!r}: {problem}"))
    return issues


class PortBook:
    """Host ports published by exposed deckies on one agent (PORT_COLLISION).

    An owner is a neighbour topology or a decky told apart by identity, not by name.
    """

    def __init__(self, context: ValidationContext) -> None:
        self._owners: dict[tuple[int, str], str | tuple[DeckyDoc, int | None]] = {}
        for neighbour in context.neighbours:
            for port in neighbour.exposed_ports:
                self._owners.setdefault(port, f"topology {neighbour.name}")

    def check(
        self, decky: DeckyDoc, services: list[str], dmz_names: set[str],
        index: int | None = None,
    ) -> list[Issue]:
        """Issues of one decky's exposure; `index` is its position in the document."""
        if not decky.expose:
            return []
        home = next(iter(decky.lans), None)
        if home not in dmz_names:
            return [error(Code.EXPOSE_NOT_IN_DMZ, decky_target(decky, "expose"),
                          f"decky {decky.name} is homed on {home or 'no LAN'}, not the DMZ; "
                          "only DMZ-homed deckies may publish ports")]
        issues = []
        me = (decky, index)
        for service in services:
            for port in SERVICES[service].ports if service in SERVICES else ():
                key = (port.number, port.protocol)
                owner = self._owners.setdefault(key, me)
                if isinstance(owner, str):
                    label = owner
                elif owner is not me and not _same(owner, me):
                    label = f"decky {_holder(owner[0], owner[1], decky)}"
                else:
                    continue
                issues.append(error(Code.PORT_COLLISION, decky_target(decky, "expose"),
                                    f"host port {port} of {service} is already "
                                    f"published by {label}"))
        return issues
