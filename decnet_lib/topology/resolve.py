"""Resolution: turn a valid document into the resolved form (IPs, services, ids, hash)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from pydantic import BaseModel

from decnet_lib.catalog import ARCHETYPES, SERVICES
from decnet_lib.topology.addressing import Allocator, gateway_of, parse_ip, parse_subnet
from decnet_lib.topology.document import DEFAULT_EMULATION, DeckyDoc, TopologyDoc
from decnet_lib.topology.hashing import canonical_hash
from decnet_lib.topology.resolved import ResolvedDecky, ResolvedLan, ResolvedTopology


def new_id() -> str:
    """A fresh object id (32 hex characters)."""
    return uuid.uuid4().hex


def effective_services(archetype: str | None, services: list[str]) -> list[str]:
    """The archetype's services then the listed ones, without duplicates, in order."""
    base = ARCHETYPES[archetype].services if archetype in ARCHETYPES else ()
    return list(dict.fromkeys([*base, *services]))


def default_image(service: str, emulation: str = DEFAULT_EMULATION) -> str:
    """The offline-built image of a catalog service for `emulation` ("" if unknown)."""
    return SERVICES[service].image_for(emulation) if service in SERVICES else ""


def is_default_image(service: str, image: str) -> bool:
    """True when `image` is one of the service's own images (not a replacement)."""
    return service in SERVICES and image in (SERVICES[service].image,
                                             SERVICES[service].light_image)


def image_map(
    services: list[str], overrides: Mapping[str, str], emulation: str = DEFAULT_EMULATION
) -> dict[str, str]:
    """Image per service: the decky's override, else its own image for `emulation`.

    A value naming one of the service's own images (light or full) is no override: it
    follows the emulation.
    """
    images = {}
    for svc in services:
        image = overrides.get(svc) or ""
        images[svc] = (image if image and not is_default_image(svc, image)
                       else default_image(svc, emulation))
    return images


def resolve_decky(
    decky: DeckyDoc, allocators: Mapping[str, Allocator], decky_id: str | None = None,
    topology: TopologyDoc | None = None,
) -> ResolvedDecky:
    """Resolve one decky, allocating an address on each LAN where none is pinned.

    Emulation and domain fall back on the topology's (`topology`) when the decky has none.
    """
    emulation = decky.emulation or (topology.emulation if topology else DEFAULT_EMULATION)
    domain = decky.domain or (topology.domain if topology else None)
    services = effective_services(decky.archetype, decky.services)
    lans = {
        lan: ip if ip is not None else str(allocators[lan].allocate())
        for lan, ip in decky.lans.items()
    }
    return ResolvedDecky(
        id=decky_id or new_id(),
        name=decky.name,
        archetype=decky.archetype,
        services=services,
        lans=lans,
        forwards_l3=decky.forwards_l3,
        expose=decky.expose.model_dump() if isinstance(decky.expose, BaseModel)
        else decky.expose,
        resources=decky.resources.model_dump(exclude_none=True) if decky.resources else {},
        service_config=decky.service_config,
        images=image_map(services, decky.images, emulation),
        emulation=emulation,
        domain=domain,
        meta=decky.meta,
    )


def resolve(doc: TopologyDoc, topology_id: str | None = None) -> ResolvedTopology:
    """Resolve a document that passed validation (no error issues)."""
    lans: list[ResolvedLan] = []
    allocators: dict[str, Allocator] = {}
    for lan in doc.lans:
        network = parse_subnet(lan.subnet)
        if network is None:
            raise ValueError(f"LAN {lan.name}: malformed subnet {lan.subnet!r}")
        allocators[lan.name] = Allocator(network)
        lans.append(
            ResolvedLan(
                id=new_id(),
                name=lan.name,
                subnet=str(network),
                gateway=str(gateway_of(network)),
                dmz=lan.dmz,
                driver=lan.driver,
                parent=lan.parent,
                meta=lan.meta,
            )
        )
    for decky in doc.deckies:  # pinned addresses first, so allocation never takes them
        for lan, ip in decky.lans.items():
            address = parse_ip(ip) if ip is not None else None
            if address is not None:
                allocators[lan].reserve(address)
    deckies = [resolve_decky(decky, allocators, topology=doc) for decky in doc.deckies]
    topology = ResolvedTopology(
        id=topology_id or new_id(), name=doc.name, lans=lans, deckies=deckies
    )
    topology.hash = canonical_hash(topology.model_dump())
    return topology
