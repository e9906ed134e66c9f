"""Resolution: deterministic address allocation, archetype expansion, images, round trip."""

from __future__ import annotations

import copy
from ipaddress import IPv4Address, IPv4Network
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from decnet_lib.catalog import ARCHETYPES, SERVICES
from decnet_lib.issues import has_errors
from decnet_lib.topology.addressing import Allocator, parse_subnet
from decnet_lib.topology.document import TopologyDoc
from decnet_lib.topology.hashing import canonical_hash
from decnet_lib.topology.resolve import effective_services, image_map, resolve
from decnet_lib.topology.resolved import ResolvedTopology
from decnet_lib.validation.validate import validate_data

BASE: dict[str, Any] = {
    "name": "acme",
    "lans": [
        {"name": "dmz", "subnet": "172.20.0.0/24", "dmz": True},
        {"name": "office", "subnet": "172.20.1.0/24"},
    ],
    "deckies": [
        {
            "name": "gw01",
            "archetype": "linux-server",
            "services": ["http"],
            "lans": {"dmz": "172.20.0.10", "office": None},
            "forwards_l3": True,
            "service_config": {"ssh": {"banner": "SSH-2.0-OpenSSH_9.2p1 Debian-2"}},
        },
        {"name": "ws01", "services": ["smb"], "lans": {"office": "172.20.1.20"}},
        {"name": "www01", "services": ["https"], "lans": {"dmz": None}, "expose": True},
    ],
}


def make(**top: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    data.update(top)
    return data


def parse(data: dict[str, Any]) -> TopologyDoc:
    doc, issues = validate_data(data)
    assert doc is not None and not has_errors(issues), issues
    return doc


def resolved(data: dict[str, Any], topology_id: str | None = None) -> ResolvedTopology:
    return resolve(parse(data), topology_id)


def as_document(topology: ResolvedTopology) -> dict[str, Any]:
    """The resolved form minus what resolution attached: a topology document again."""
    data = topology.model_dump()
    for key in ("id", "status", "hash"):
        data.pop(key)
    for lan in data["lans"]:
        lan.pop("id")
        lan.pop("gateway")
    for decky in data["deckies"]:
        decky.pop("id")
    return data


def ips(topology: ResolvedTopology, lan: str) -> dict[str, str]:
    return {d.name: d.lans[lan] for d in topology.deckies if lan in d.lans}


# --- addresses --------------------------------------------------------------------------------


def test_allocation_takes_the_lowest_free_addresses() -> None:
    data = make(deckies=[
        {"name": f"pc{i}", "lans": {"dmz": None}} for i in range(4)
    ])
    topo = resolved(data)
    # .0 is the network, .1 the gateway: the first decky gets .2
    assert ips(topo, "dmz") == {
        "pc0": "172.20.0.2", "pc1": "172.20.0.3", "pc2": "172.20.0.4", "pc3": "172.20.0.5",
    }


def test_allocation_skips_pinned_addresses_even_when_pinned_later() -> None:
    data = make(deckies=[
        {"name": "a", "lans": {"dmz": None}},
        {"name": "b", "lans": {"dmz": None}},
        {"name": "c", "lans": {"dmz": "172.20.0.2"}},  # pinned after a and b
        {"name": "d", "lans": {"dmz": "172.20.0.4"}},
        {"name": "e", "lans": {"dmz": None}},
    ])
    assert ips(resolved(data), "dmz") == {
        "a": "172.20.0.3", "b": "172.20.0.5", "c": "172.20.0.2", "d": "172.20.0.4",
        "e": "172.20.0.6",
    }


def test_allocation_is_per_lan_and_respects_each_lans_subnet() -> None:
    topo = resolved(make())
    assert ips(topo, "office") == {"gw01": "172.20.1.2", "ws01": "172.20.1.20"}
    assert ips(topo, "dmz") == {"gw01": "172.20.0.10", "www01": "172.20.0.2"}


def test_allocation_fills_a_slash_29_exactly() -> None:
    data = make(
        lans=[{"name": "dmz", "subnet": "10.0.0.0/29", "dmz": True}],
        deckies=[{"name": f"pc{i}", "lans": {"dmz": None}} for i in range(5)],
    )
    assert sorted(ips(resolved(data), "dmz").values()) == [f"10.0.0.{i}" for i in range(2, 7)]


def test_allocation_is_deterministic() -> None:
    first, second = resolved(make()), resolved(make())
    assert [d.lans for d in first.deckies] == [d.lans for d in second.deckies]
    assert first.hash == second.hash
    assert first.id != second.id  # ids are fresh, the hash does not care


def test_allocator_raises_when_full() -> None:
    network = IPv4Network("10.0.0.0/29")
    allocator = Allocator(network, taken={int(IPv4Address("10.0.0.4"))})
    got = [str(allocator.allocate()) for _ in range(4)]
    assert got == ["10.0.0.2", "10.0.0.3", "10.0.0.5", "10.0.0.6"]
    with pytest.raises(ValueError, match="no free address"):
        allocator.allocate()


def test_resolved_lans_carry_the_gateway() -> None:
    topo = resolved(make())
    assert {lan.name: lan.gateway for lan in topo.lans} == {
        "dmz": "172.20.0.1", "office": "172.20.1.1",
    }


def test_resolve_refuses_a_malformed_subnet() -> None:
    doc = TopologyDoc.model_validate(make(lans=[{"name": "dmz", "subnet": "x", "dmz": True}]))
    with pytest.raises(ValueError, match="malformed subnet"):
        resolve(doc)


# --- services and images ----------------------------------------------------------------------


def test_archetype_services_come_first_without_duplicates() -> None:
    data = make()
    data["deckies"][0].update(archetype="web-server", services=["http", "ftp", "ssh", "ftp"])
    gw01 = resolved(data).decky("gw01")
    assert gw01 is not None
    assert gw01.services == ["ssh", "http", "https", "ftp"]
    assert gw01.archetype == "web-server"


@pytest.mark.parametrize("archetype", sorted(ARCHETYPES))
def test_every_archetype_expands_to_known_services(archetype: str) -> None:
    services = effective_services(archetype, ["vnc"])
    assert services[: len(ARCHETYPES[archetype].services)] == list(
        ARCHETYPES[archetype].services
    )
    assert services[-1] == "vnc"
    assert set(services) <= set(SERVICES)


def test_no_archetype_keeps_the_listed_order() -> None:
    assert effective_services(None, ["smb", "ssh", "smb"]) == ["smb", "ssh"]


def test_default_images_and_overrides() -> None:
    data = make()
    data["deckies"][0]["services"] = ["http", "docker_api"]
    data["deckies"][0]["images"] = {"http": "nginx:1.25"}
    gw01 = resolved(data).decky("gw01")
    assert gw01 is not None
    assert gw01.images == {
        "ssh": "decnet/svc-ssh:latest",
        "http": "nginx:1.25",
        "docker_api": "decnet/svc-docker-api:latest",
    }


def test_image_map_covers_every_catalog_service() -> None:
    images = image_map(sorted(SERVICES), {})
    assert set(images) == set(SERVICES)
    assert all(image.startswith("decnet/svc-") and image.endswith(":latest")
               for image in images.values())


def test_resolved_keeps_flags_config_and_meta() -> None:
    data = make()
    data["deckies"][0]["meta"] = {"x": 10}
    data["lans"][1]["meta"] = {"colour": "blue"}
    topo = resolved(data, topology_id="f" * 32)
    gw01, www01 = topo.decky("gw01"), topo.decky("www01")
    assert gw01 is not None and www01 is not None
    assert topo.id == "f" * 32
    assert topo.status == "pending"
    assert gw01.forwards_l3 is True and gw01.expose is False
    assert www01.expose is True and www01.forwards_l3 is False
    assert gw01.service_config == {"ssh": {"banner": "SSH-2.0-OpenSSH_9.2p1 Debian-2"}}
    assert gw01.meta == {"x": 10}
    assert topo.lan("office") is not None and topo.lan("office").meta == {"colour": "blue"}
    assert gw01.home == "dmz" and gw01.is_bridge
    ids = [topo.id, *(lan.id for lan in topo.lans), *(d.id for d in topo.deckies)]
    assert len(set(ids)) == len(ids)


# --- round trip -------------------------------------------------------------------------------


def test_resolved_form_is_a_valid_document_with_the_same_hash() -> None:
    first = resolved(make())
    again_data = as_document(first)
    doc, issues = validate_data(again_data)
    assert doc is not None and issues == []
    second = resolve(doc)
    assert second.hash == first.hash
    assert as_document(second) == again_data


def test_resolved_form_round_trips_through_json_and_yaml() -> None:
    import orjson
    import yaml

    from decnet_lib.topology.loader import decode_document

    first = resolved(make())
    data = as_document(first)
    for raw in (orjson.dumps(data), yaml.safe_dump(data, sort_keys=False).encode()):
        doc, issues = validate_data(decode_document(raw))
        assert doc is not None and issues == []
        assert resolve(doc).hash == first.hash


# --- properties over generated documents ------------------------------------------------------

SUBNETS = {"dmz": "10.1.0.0/27", "office": "10.1.1.0/28", "lab": "10.1.2.0/29"}
SERVICE_NAMES = sorted(SERVICES)


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    """Valid documents: three LANs, bridges to the DMZ, some pinned addresses."""
    count = draw(st.integers(min_value=1, max_value=12))
    deckies: list[dict[str, Any]] = []
    pinned: dict[str, set[int]] = {name: set() for name in SUBNETS}
    load = dict.fromkeys(SUBNETS, 0)
    for index in range(count):
        home = draw(st.sampled_from(sorted(SUBNETS)))
        lans: dict[str, str | None] = {home: None}
        if home != "dmz":
            lans["dmz"] = None  # a bridge, so every LAN reaches the DMZ
        if any(load[lan] + 1 > parse_subnet(SUBNETS[lan]).num_addresses - 3 for lan in lans):
            continue
        for lan in lans:
            load[lan] += 1
            network = parse_subnet(SUBNETS[lan])
            if draw(st.booleans()):
                host = draw(st.integers(2, network.num_addresses - 2))
                if host not in pinned[lan]:
                    pinned[lan].add(host)
                    lans[lan] = str(network.network_address + host)
        deckies.append({
            "name": f"d{index}",
            "archetype": draw(st.sampled_from([None, *sorted(ARCHETYPES)])),
            "services": draw(st.lists(st.sampled_from(SERVICE_NAMES), max_size=3, unique=True)),
            "lans": lans,
            "forwards_l3": len(lans) > 1,
        })
    lans = [{"name": name, "subnet": subnet, "dmz": name == "dmz"}
            for name, subnet in SUBNETS.items() if load[name]]
    return {"name": "generated", "lans": lans, "deckies": deckies}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_allocation_properties(data: dict[str, Any]) -> None:
    topo = resolved(data)
    for lan in topo.lans:
        network = IPv4Network(lan.subnet)
        reserved = {network.network_address, network.network_address + 1,
                    network.broadcast_address}
        doc_ips = {d["name"]: d["lans"][lan.name] for d in data["deckies"]
                   if lan.name in d["lans"]}
        got = ips(topo, lan.name)
        addresses = [IPv4Address(ip) for ip in got.values()]
        assert len(set(addresses)) == len(addresses), "an address is handed out twice"
        assert all(a in network and a not in reserved for a in addresses)
        # pinned addresses are kept; the others are the lowest free ones, in document order
        pinned = {IPv4Address(ip) for ip in doc_ips.values() if ip is not None}
        free = [a for a in network.hosts() if a not in reserved and a not in pinned]
        allocated = [IPv4Address(got[name]) for name, ip in doc_ips.items() if ip is None]
        assert allocated == free[: len(allocated)]
        assert all(got[name] == ip for name, ip in doc_ips.items() if ip is not None)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_round_trip_property(data: dict[str, Any]) -> None:
    first = resolved(data)
    doc, issues = validate_data(as_document(first))
    assert doc is not None and not has_errors(issues), issues
    second = resolve(doc)
    assert second.hash == first.hash == canonical_hash(first.model_dump())
    assert [d.lans for d in second.deckies] == [d.lans for d in first.deckies]
    assert [d.services for d in second.deckies] == [d.services for d in first.deckies]
