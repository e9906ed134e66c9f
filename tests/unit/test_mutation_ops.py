"""The pure mutation layer: every op's success, refusals, idempotence, purity and the hash.

`apply_op` works on a deep copy: the input topology must be byte-for-byte the same after any
call, successful or not. The sample topology is built here from a document, through the same
decode -> validate -> resolve path the CLI uses.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from decnet_lib.catalog import SERVICES
from decnet_lib.errors import InvalidTopology
from decnet_lib.mutations.invariants import invariant_errors
from decnet_lib.mutations.merge_patch import merge_patch
from decnet_lib.mutations.ops import OpContext, OpRefused
from decnet_lib.mutations.payloads import BadPayload
from decnet_lib.mutations.transform import Applied, apply_op
from decnet_lib.topology.hashing import canonical_hash
from decnet_lib.topology.loader import decode_document
from decnet_lib.topology.resolve import resolve
from decnet_lib.topology.resolved import ResolvedTopology
from decnet_lib.validation.context import EMPTY_CONTEXT, Neighbour, ValidationContext
from decnet_lib.validation.validate import validate_data

SAMPLE = b"""
name: acme
lans:
  - {name: dmz, subnet: 172.20.0.0/24, dmz: true}
  - {name: office, subnet: 172.20.1.0/24}
  - {name: lab, subnet: 172.20.2.0/24, meta: {floor: 2}}
deckies:
  - name: gw01
    archetype: linux-server
    services: [http]
    lans: {dmz: 172.20.0.10, office: null}
    forwards_l3: true
  - name: www01
    services: [https]
    lans: {dmz: null}
    expose: true
  - name: ws01
    services: [smb, ssh]
    lans: {office: 172.20.1.20}
    service_config: {ssh: {banner: "SSH-2.0-OpenSSH_8.4"}, smb: {workgroup: ACME}}
    meta: {owner: it, tags: [a]}
  - name: br02
    services: [ssh]
    lans: {office: null, lab: null}
    forwards_l3: true
  - name: lab01
    services: [telnet]
    lans: {lab: null}
"""


def build_sample() -> ResolvedTopology:
    doc, issues = validate_data(decode_document(SAMPLE))
    assert doc is not None, issues
    assert [i for i in issues if i.severity == "error"] == []
    return resolve(doc)


@pytest.fixture
def topo() -> ResolvedTopology:
    return build_sample()


def apply(
    topology: ResolvedTopology,
    op: Any,
    payload: Any,
    op_context: OpContext | None = None,
    validation_context: ValidationContext = EMPTY_CONTEXT,
) -> Applied:
    """apply_op, checking that the input is untouched and the result is consistent."""
    before = topology.model_dump()
    try:
        result = apply_op(topology, op, payload, op_context, validation_context)
    finally:
        assert topology.model_dump() == before, "apply_op modified its input"
    if result.changed:
        assert result.topology is not topology
        assert invariant_errors(result.topology, validation_context) == []
    else:
        assert result.topology is topology
    assert result.topology.hash == canonical_hash(result.topology.model_dump())
    return result


def refused(topology: ResolvedTopology, op: str, payload: Any, **kw: Any) -> str:
    before = topology.model_dump()
    with pytest.raises(OpRefused) as info:
        apply_op(topology, op, payload, **kw)
    assert topology.model_dump() == before
    return info.value.code


def invalid(topology: ResolvedTopology, op: str, payload: Any, **kw: Any) -> set[str]:
    before = topology.model_dump()
    with pytest.raises(InvalidTopology) as info:
        apply_op(topology, op, payload, **kw)
    assert topology.model_dump() == before
    assert info.value.issues, "InvalidTopology must carry the issues"
    assert all(issue.severity == "error" for issue in info.value.issues)
    return {issue.code for issue in info.value.issues}


def bad(topology: ResolvedTopology, op: Any, payload: Any) -> str:
    before = topology.model_dump()
    with pytest.raises(BadPayload) as info:
        apply_op(topology, op, payload)
    assert topology.model_dump() == before
    assert info.value.code == "BAD_PAYLOAD"
    assert "\n" not in info.value.message
    return info.value.message


def chain(topology: ResolvedTopology, *steps: tuple[str, dict[str, Any]]) -> ResolvedTopology:
    for op, payload in steps:
        result = apply(topology, op, payload)
        assert result.changed, (op, payload)
        topology = result.topology
    return topology


# --- the sample itself ---------------------------------------------------------------------


def test_sample_is_valid_and_resolved(topo: ResolvedTopology) -> None:
    assert invariant_errors(topo) == []
    assert topo.decky("gw01").lans == {"dmz": "172.20.0.10", "office": "172.20.1.2"}
    assert topo.decky("www01").lans == {"dmz": "172.20.0.2"}
    assert topo.decky("br02").lans == {"office": "172.20.1.3", "lab": "172.20.2.2"}
    assert topo.decky("lab01").lans == {"lab": "172.20.2.3"}
    assert topo.hash == canonical_hash(topo.model_dump())


# --- add_lan -------------------------------------------------------------------------------


def test_add_lan_with_subnet(topo: ResolvedTopology) -> None:
    result = apply(topo, "add_lan", {"name": "spare", "subnet": "10.50.0.0/24"})
    assert result.changed
    lan = result.topology.lan("spare")
    assert lan is not None
    assert (lan.subnet, lan.gateway, lan.dmz, lan.driver) == ("10.50.0.0/24", "10.50.0.1",
                                                              False, "bridge")
    assert len(lan.id) == 32
    assert [x.name for x in result.topology.lans] == ["dmz", "office", "lab", "spare"]
    assert result.topology.hash != topo.hash


def test_add_lan_auto_subnet_avoids_own_lans(topo: ResolvedTopology) -> None:
    result = apply(topo, "add_lan", {"name": "spare"})
    assert result.topology.lan("spare").subnet == "172.20.3.0/24"
    assert result.topology.lan("spare").gateway == "172.20.3.1"


def test_add_lan_auto_subnet_avoids_context_used_subnets(topo: ResolvedTopology) -> None:
    context = OpContext(used_subnets=("172.20.3.0/24", "172.20.4.0/23", "garbage"))
    result = apply(topo, "add_lan", {"name": "spare"}, op_context=context)
    assert result.topology.lan("spare").subnet == "172.20.6.0/24"


def test_add_lan_auto_subnet_avoids_wide_used_subnet(topo: ResolvedTopology) -> None:
    context = OpContext(used_subnets=("172.20.0.0/16",))
    result = apply(topo, "add_lan", {"name": "spare"}, op_context=context)
    assert result.topology.lan("spare").subnet == "172.21.0.0/24"


def test_add_lan_auto_subnet_avoids_live_neighbours(topo: ResolvedTopology) -> None:
    neighbours = ValidationContext((Neighbour("other", subnets=("172.20.3.0/24",)),))
    result = apply(topo, "add_lan", {"name": "spare"}, validation_context=neighbours)
    assert result.topology.lan("spare").subnet == "172.20.4.0/24"


def test_add_lan_auto_subnet_from_custom_pool(topo: ResolvedTopology) -> None:
    result = apply(topo, "add_lan", {"name": "spare"}, op_context=OpContext(pool="10.9.0.0/16"))
    assert result.topology.lan("spare").subnet == "10.9.0.0/24"


def test_add_lan_pool_exhausted_is_refused(topo: ResolvedTopology) -> None:
    code = refused(topo, "add_lan", {"name": "spare"},
                   op_context=OpContext(pool="172.20.0.0/23"))
    assert code == "SUBNET_OVERLAP"


def test_add_lan_identical_is_idempotent(topo: ResolvedTopology) -> None:
    once = apply(topo, "add_lan", {"name": "spare", "subnet": "10.50.0.0/24"}).topology
    for payload in ({"name": "spare", "subnet": "10.50.0.0/24"}, {"name": "spare"},
                    {"name": "spare", "dmz": False}):
        again = apply(once, "add_lan", payload)
        assert not again.changed
        assert again.topology is once
        assert again.topology.hash == once.hash
    assert not apply(topo, "add_lan", {"name": "dmz", "subnet": "172.20.0.0/24",
                                       "dmz": True}).changed


@pytest.mark.parametrize("payload", [
    {"name": "office", "subnet": "10.50.0.0/24"},
    {"name": "office", "dmz": True},
    {"name": "dmz"},
])
def test_add_lan_duplicate_different_is_refused(topo: ResolvedTopology,
                                                payload: dict[str, Any]) -> None:
    assert refused(topo, "add_lan", payload) == "LAN_NAME_DUP"


@pytest.mark.parametrize(("payload", "code"), [
    ({"name": "spare", "subnet": "172.20.1.128/25"}, "SUBNET_OVERLAP"),
    ({"name": "spare", "subnet": "172.20.0.0/16"}, "SUBNET_OVERLAP"),
    ({"name": "spare", "subnet": "10.0.0.0/24", "dmz": True}, "DMZ_MULTIPLE"),
    ({"name": "spare", "subnet": "10.0.0.0/30"}, "SUBNET_TOO_SMALL"),
    ({"name": "spare", "subnet": "10.0.0.1/24"}, "SUBNET_MALFORMED"),
    ({"name": "spare", "subnet": "not-a-net"}, "SUBNET_MALFORMED"),
    ({"name": "Spare LAN", "subnet": "10.0.0.0/24"}, "NAME_INVALID"),
])
def test_add_lan_breaking_an_invariant(topo: ResolvedTopology, payload: dict[str, Any],
                                       code: str) -> None:
    assert code in invalid(topo, "add_lan", payload)


def test_add_lan_overlapping_a_neighbour(topo: ResolvedTopology) -> None:
    neighbours = ValidationContext((Neighbour("other", subnets=("10.7.0.0/16",)),))
    codes = invalid(topo, "add_lan", {"name": "spare", "subnet": "10.7.1.0/24"},
                    validation_context=neighbours)
    assert codes == {"SUBNET_OVERLAP"}


# --- remove_lan ----------------------------------------------------------------------------


def test_remove_lan_detaches_visiting_bridges(topo: ResolvedTopology) -> None:
    topo2 = chain(topo,
                  ("add_lan", {"name": "spare", "subnet": "10.50.0.0/24"}),
                  ("attach_decky", {"decky": "ws01", "lan": "spare"}),
                  ("attach_decky", {"decky": "gw01", "lan": "spare", "ip": "10.50.0.9"}))
    assert topo2.decky("ws01").lans == {"office": "172.20.1.20", "spare": "10.50.0.2"}
    result = apply(topo2, "remove_lan", {"name": "spare"})
    assert result.changed
    assert result.topology.lan("spare") is None
    assert result.topology.decky("ws01").lans == {"office": "172.20.1.20"}
    assert result.topology.decky("gw01").lans == {"dmz": "172.20.0.10", "office": "172.20.1.2"}
    assert result.topology.hash == topo.hash  # back to the same deployment


def test_remove_empty_lan(topo: ResolvedTopology) -> None:
    topo2 = chain(topo, ("add_lan", {"name": "spare"}))
    result = apply(topo2, "remove_lan", {"name": "spare"})
    assert [lan.name for lan in result.topology.lans] == ["dmz", "office", "lab"]


@pytest.mark.parametrize("name", ["dmz", "office", "lab"])
def test_remove_home_lan_is_refused(topo: ResolvedTopology, name: str) -> None:
    assert refused(topo, "remove_lan", {"name": name}) == "LAN_IS_HOME"


def test_remove_absent_lan_is_idempotent(topo: ResolvedTopology) -> None:
    result = apply(topo, "remove_lan", {"name": "nowhere"})
    assert not result.changed and result.topology is topo


def test_remove_lan_homed_by_a_decky_added_later(topo: ResolvedTopology) -> None:
    topo2 = chain(topo,
                  ("add_lan", {"name": "spare", "subnet": "10.50.0.0/24"}),
                  ("attach_decky", {"decky": "gw01", "lan": "spare"}),
                  ("add_decky", {"name": "s1", "lan": "spare"}))
    assert refused(topo2, "remove_lan", {"name": "spare"}) == "LAN_IS_HOME"


# --- add_decky -----------------------------------------------------------------------------


def test_add_decky_creates_decky_and_home_edge(topo: ResolvedTopology) -> None:
    result = apply(topo, "add_decky", {"name": "db01", "lan": "lab", "services": ["mysql"]})
    decky = result.topology.decky("db01")
    assert decky is not None
    assert decky.lans == {"lab": "172.20.2.4"}  # lowest free: .2 and .3 are taken
    assert decky.home == "lab"
    assert decky.services == ["mysql"]
    assert decky.images == {"mysql": SERVICES["mysql"].image}
    assert (decky.forwards_l3, decky.expose, decky.archetype) == (False, False, None)
    assert len(decky.id) == 32
    assert result.topology.hash != topo.hash


def test_add_decky_allocates_the_lowest_free_ip(topo: ResolvedTopology) -> None:
    topo2 = chain(topo, ("remove_decky", {"decky": "lab01"}))  # frees 172.20.2.3
    result = apply(topo2, "add_decky", {"name": "db01", "lan": "lab"})
    assert result.topology.decky("db01").lans == {"lab": "172.20.2.3"}
    result = apply(result.topology, "add_decky", {"name": "db02", "lan": "office"})
    assert result.topology.decky("db02").lans == {"office": "172.20.1.4"}


def test_add_decky_never_takes_network_gateway_or_broadcast(topo: ResolvedTopology) -> None:
    topo2 = chain(topo, ("add_lan", {"name": "tiny", "subnet": "172.20.9.0/29"}),
                  ("attach_decky", {"decky": "gw01", "lan": "tiny"}))
    current = topo2
    for index in range(4):
        current = chain(current, ("add_decky", {"name": f"t{index}", "lan": "tiny"}))
    ips = {d.lans["tiny"] for d in current.deckies if "tiny" in d.lans}
    assert ips == {f"172.20.9.{n}" for n in range(2, 7)}
    assert refused(current, "add_decky", {"name": "t9", "lan": "tiny"}) == "SUBNET_TOO_SMALL"


def test_add_decky_with_pinned_ip_and_flags(topo: ResolvedTopology) -> None:
    payload = {"name": "web02", "lan": "dmz", "services": ["http", "ssh"], "ip": "172.20.0.77",
               "forwards_l3": True, "expose": True,
               "service_config": {"http": {"page_title": "Welcome"}}}
    decky = apply(topo, "add_decky", payload).topology.decky("web02")
    assert decky.lans == {"dmz": "172.20.0.77"}
    assert (decky.forwards_l3, decky.expose) == (True, True)
    assert decky.service_config == {"http": {"page_title": "Welcome"}}


def test_add_decky_expands_the_archetype(topo: ResolvedTopology) -> None:
    payload = {"name": "web02", "lan": "office", "archetype": "web-server",
               "services": ["ftp", "ssh"]}
    decky = apply(topo, "add_decky", payload).topology.decky("web02")
    assert decky.archetype == "web-server"
    assert decky.services == ["ssh", "http", "https", "ftp"]
    assert decky.images == {svc: SERVICES[svc].image for svc in decky.services}


def test_add_decky_archetype_without_services(topo: ResolvedTopology) -> None:
    decky = apply(topo, "add_decky", {"name": "dc01", "lan": "office",
                                      "archetype": "domain-controller"}).topology.decky("dc01")
    assert decky.services == ["dns", "ldap", "smb", "rdp"]


def test_add_decky_identical_is_idempotent(topo: ResolvedTopology) -> None:
    payload = {"name": "db01", "lan": "lab", "archetype": "linux-server",
               "services": ["mysql"], "service_config": {"mysql": {"version": "8.0"}}}
    once = apply(topo, "add_decky", payload).topology
    pinned = {**payload, "ip": once.decky("db01").lans["lab"]}
    for again_payload in (payload, pinned):
        again = apply(once, "add_decky", again_payload)
        assert not again.changed
        assert again.topology is once
        assert again.topology.hash == once.hash


@pytest.mark.parametrize("payload", [
    {"name": "ws01", "lan": "office", "services": ["smb"]},  # different services
    {"name": "ws01", "lan": "lab", "services": ["smb", "ssh"]},  # different home
    {"name": "br02", "lan": "office", "services": ["ssh"], "ip": "172.20.1.99"},
    {"name": "br02", "lan": "office", "services": ["ssh"]},  # forwards_l3 differs
])
def test_add_decky_name_taken_by_a_different_decky(topo: ResolvedTopology,
                                                   payload: dict[str, Any]) -> None:
    assert refused(topo, "add_decky", payload) == "DECKY_NAME_DUP"


def test_add_decky_unknown_lan(topo: ResolvedTopology) -> None:
    assert refused(topo, "add_decky", {"name": "db01", "lan": "nowhere"}) == "NOT_FOUND"


@pytest.mark.parametrize(("payload", "code"), [
    ({"name": "db01", "lan": "office", "ip": "172.20.1.20"}, "IP_COLLISION"),
    ({"name": "db01", "lan": "office", "ip": "172.20.1.2"}, "IP_COLLISION"),
    ({"name": "db01", "lan": "office", "ip": "172.20.1.1"}, "IP_RESERVED"),
    ({"name": "db01", "lan": "office", "ip": "172.20.1.255"}, "IP_RESERVED"),
    ({"name": "db01", "lan": "office", "ip": "10.0.0.5"}, "IP_OUT_OF_SUBNET"),
    ({"name": "db01", "lan": "office", "ip": "nope"}, "IP_MALFORMED"),
    ({"name": "db01", "lan": "office", "ip": ""}, "IP_MALFORMED"),
    ({"name": "db01", "lan": "office", "services": ["gopher"]}, "UNKNOWN_SERVICE"),
    ({"name": "db01", "lan": "office", "archetype": "mainframe"}, "UNKNOWN_ARCHETYPE"),
    ({"name": "db01", "lan": "office", "services": ["ssh"],
      "service_config": {"http": {"page_title": "x"}}}, "SERVICE_CFG_UNDECLARED"),
    ({"name": "db01", "lan": "office", "services": ["ssh"],
      "service_config": {"ssh": {"colour": "red"}}}, "SERVICE_CFG_INVALID"),
    ({"name": "db01", "lan": "office", "services": ["ssh"],
      "service_config": {"ssh": {"banner": 5}}}, "SERVICE_CFG_INVALID"),
    ({"name": "db01", "lan": "office", "services": ["ssh"], "expose": True},
     "EXPOSE_NOT_IN_DMZ"),
    ({"name": "db01", "lan": "dmz", "services": ["https"], "expose": True}, "PORT_COLLISION"),
    ({"name": "DB_01", "lan": "office"}, "NAME_INVALID"),
])
def test_add_decky_breaking_an_invariant(topo: ResolvedTopology, payload: dict[str, Any],
                                         code: str) -> None:
    assert code in invalid(topo, "add_decky", payload)


def test_add_decky_exposed_port_taken_by_a_neighbour(topo: ResolvedTopology) -> None:
    neighbours = ValidationContext((Neighbour("other", exposed_ports=((22, "tcp"),)),))
    codes = invalid(topo, "add_decky", {"name": "db01", "lan": "dmz", "services": ["ssh"],
                                        "expose": True}, validation_context=neighbours)
    assert codes == {"PORT_COLLISION"}


def test_add_decky_payload_is_not_shared(topo: ResolvedTopology) -> None:
    payload = {"name": "db01", "lan": "lab", "services": ["mysql"],
               "service_config": {"mysql": {"version": "8.0"}}}
    result = apply(topo, "add_decky", payload)
    payload["service_config"]["mysql"]["version"] = "changed"
    assert result.topology.decky("db01").service_config == {"mysql": {"version": "8.0"}}


# --- attach_decky / detach_decky -----------------------------------------------------------


def test_attach_decky_without_ip_allocates(topo: ResolvedTopology) -> None:
    result = apply(topo, "attach_decky", {"decky": "ws01", "lan": "lab"})
    decky = result.topology.decky("ws01")
    assert decky.lans == {"office": "172.20.1.20", "lab": "172.20.2.4"}
    assert decky.home == "office" and decky.is_bridge
    assert result.topology.hash != topo.hash


def test_attach_decky_with_ip(topo: ResolvedTopology) -> None:
    result = apply(topo, "attach_decky", {"decky": "www01", "lan": "office",
                                          "ip": "172.20.1.200"})
    assert list(result.topology.decky("www01").lans.items()) == [
        ("dmz", "172.20.0.2"), ("office", "172.20.1.200")]


def test_attach_same_is_idempotent(topo: ResolvedTopology) -> None:
    for payload in ({"decky": "gw01", "lan": "office"},
                    {"decky": "gw01", "lan": "office", "ip": "172.20.1.2"},
                    {"decky": "gw01", "lan": "dmz"}):
        result = apply(topo, "attach_decky", payload)
        assert not result.changed and result.topology is topo


def test_attach_with_another_ip_is_refused(topo: ResolvedTopology) -> None:
    code = refused(topo, "attach_decky", {"decky": "gw01", "lan": "office",
                                          "ip": "172.20.1.50"})
    assert code == "ALREADY_ATTACHED"


@pytest.mark.parametrize(("payload", "code"), [
    ({"decky": "ws01", "lan": "lab", "ip": "172.20.2.2"}, "IP_COLLISION"),
    ({"decky": "ws01", "lan": "lab", "ip": "172.20.3.2"}, "IP_OUT_OF_SUBNET"),
    ({"decky": "ws01", "lan": "lab", "ip": "172.20.2.0"}, "IP_RESERVED"),
    ({"decky": "ws01", "lan": "lab", "ip": ""}, "IP_MALFORMED"),  # only absent = allocate
])
def test_attach_breaking_an_invariant(topo: ResolvedTopology, payload: dict[str, Any],
                                      code: str) -> None:
    assert code in invalid(topo, "attach_decky", payload)


@pytest.mark.parametrize("payload", [
    {"decky": "ghost", "lan": "lab"},
    {"decky": "ws01", "lan": "nowhere"},
])
def test_attach_unknown_is_not_found(topo: ResolvedTopology, payload: dict[str, Any]) -> None:
    assert refused(topo, "attach_decky", payload) == "NOT_FOUND"


def test_detach_decky(topo: ResolvedTopology) -> None:
    topo2 = chain(topo, ("attach_decky", {"decky": "ws01", "lan": "lab"}))
    result = apply(topo2, "detach_decky", {"decky": "ws01", "lan": "lab"})
    assert result.changed
    assert result.topology.decky("ws01").lans == {"office": "172.20.1.20"}
    assert result.topology.hash == topo.hash


def test_detach_absent_is_idempotent(topo: ResolvedTopology) -> None:
    result = apply(topo, "detach_decky", {"decky": "ws01", "lan": "lab"})
    assert not result.changed and result.topology is topo


@pytest.mark.parametrize(("decky", "lan"), [("gw01", "dmz"), ("ws01", "office"),
                                            ("br02", "office"), ("lab01", "lab")])
def test_detach_home_lan_is_refused(topo: ResolvedTopology, decky: str, lan: str) -> None:
    assert refused(topo, "detach_decky", {"decky": decky, "lan": lan}) == "LAN_IS_HOME"


def test_detach_unknown_decky(topo: ResolvedTopology) -> None:
    assert refused(topo, "detach_decky", {"decky": "ghost", "lan": "lab"}) == "NOT_FOUND"


def test_detach_that_makes_a_lan_unreachable(topo: ResolvedTopology) -> None:
    codes = invalid(topo, "detach_decky", {"decky": "br02", "lan": "lab"})
    assert codes == {"LAN_UNREACHABLE"}
    codes = invalid(topo, "detach_decky", {"decky": "gw01", "lan": "office"})
    assert codes == {"LAN_UNREACHABLE"}


def test_detach_with_a_second_bridge_is_fine(topo: ResolvedTopology) -> None:
    topo2 = chain(topo, ("attach_decky", {"decky": "gw01", "lan": "lab"}))
    result = apply(topo2, "detach_decky", {"decky": "br02", "lan": "lab"})
    assert result.topology.decky("br02").lans == {"office": "172.20.1.3"}


# --- update_decky --------------------------------------------------------------------------


def test_update_decky_patch_flags(topo: ResolvedTopology) -> None:
    result = apply(topo, "update_decky", {"decky": "gw01", "patch": {"forwards_l3": False}})
    assert result.changed and result.topology.decky("gw01").forwards_l3 is False
    assert result.topology.hash != topo.hash
    result = apply(topo, "update_decky", {"decky": "www01", "patch": {"expose": False}})
    assert result.topology.decky("www01").expose is False
    result = apply(topo, "update_decky", {"decky": "www01", "patch": {"expose": None}})
    assert result.topology.decky("www01").expose is False  # null removes: back to default


def test_update_decky_patch_merges_service_config(topo: ResolvedTopology) -> None:
    result = apply(topo, "update_decky", {"decky": "ws01", "patch": {"service_config": {
        "ssh": {"banner": "SSH-2.0-dropbear"}, "smb": {"server_string": "Samba 4.9"}}}})
    assert result.topology.decky("ws01").service_config == {
        "ssh": {"banner": "SSH-2.0-dropbear"},
        "smb": {"workgroup": "ACME", "server_string": "Samba 4.9"},
    }
    result = apply(result.topology, "update_decky", {"decky": "ws01", "patch": {
        "service_config": {"ssh": None, "smb": {"workgroup": None}}}})
    assert result.topology.decky("ws01").service_config == {
        "smb": {"server_string": "Samba 4.9"}}
    result = apply(result.topology, "update_decky",
                   {"decky": "ws01", "patch": {"service_config": None}})
    assert result.topology.decky("ws01").service_config == {}


def test_update_decky_patch_images(topo: ResolvedTopology) -> None:
    result = apply(topo, "update_decky", {"decky": "ws01",
                                          "patch": {"images": {"ssh": "acme/ssh:1"}}})
    decky = result.topology.decky("ws01")
    assert decky.images == {"smb": SERVICES["smb"].image, "ssh": "acme/ssh:1"}
    assert result.topology.hash != topo.hash
    result = apply(result.topology, "update_decky",
                   {"decky": "ws01", "patch": {"images": {"ssh": None}}})
    assert result.topology.decky("ws01").images == topo.decky("ws01").images
    assert result.topology.hash == topo.hash


def test_update_decky_patch_meta_does_not_change_hash(topo: ResolvedTopology) -> None:
    result = apply(topo, "update_decky", {"decky": "ws01", "patch": {
        "meta": {"owner": None, "tags": ["b", "c"], "ui": {"x": 1, "y": 2}}}})
    assert result.changed
    assert result.topology.decky("ws01").meta == {"tags": ["b", "c"], "ui": {"x": 1, "y": 2}}
    assert result.topology.hash == topo.hash


def test_update_decky_services_replace_the_list(topo: ResolvedTopology) -> None:
    topo2 = chain(topo, ("update_decky", {"decky": "ws01",
                                          "patch": {"images": {"smb": "acme/smb:2"}}}))
    result = apply(topo2, "update_decky", {"decky": "ws01", "services": ["ssh", "ftp", "ssh"]})
    decky = result.topology.decky("ws01")
    assert decky.services == ["ssh", "ftp"]
    assert decky.service_config == {"ssh": {"banner": "SSH-2.0-OpenSSH_8.4"}}  # smb's dropped
    assert decky.images == {"ssh": SERVICES["ssh"].image, "ftp": SERVICES["ftp"].image}
    assert decky.meta == topo.decky("ws01").meta
    assert result.topology.hash != topo2.hash


def test_update_decky_services_and_archetype(topo: ResolvedTopology) -> None:
    kept = apply(topo, "update_decky", {"decky": "gw01", "services": ["ssh", "ftp"]})
    assert kept.topology.decky("gw01").archetype == "linux-server"
    dropped = apply(topo, "update_decky", {"decky": "gw01", "services": ["http"]})
    assert dropped.topology.decky("gw01").archetype is None
    assert dropped.topology.decky("gw01").services == ["http"]
    emptied = apply(topo, "update_decky", {"decky": "ws01", "services": []})
    assert emptied.topology.decky("ws01").services == []
    assert emptied.topology.decky("ws01").service_config == {}
    assert emptied.topology.decky("ws01").images == {}


def test_update_decky_services_and_patch_together(topo: ResolvedTopology) -> None:
    result = apply(topo, "update_decky", {"decky": "ws01", "services": ["ftp"],
                                          "patch": {"service_config": {
                                              "ftp": {"anonymous": True}}}})
    decky = result.topology.decky("ws01")
    assert decky.services == ["ftp"]
    assert decky.service_config == {"ftp": {"anonymous": True}}


@pytest.mark.parametrize("payload", [
    {"decky": "ws01"},
    {"decky": "ws01", "patch": {}},
    {"decky": "ws01", "services": ["smb", "ssh"]},
    {"decky": "ws01", "patch": {"forwards_l3": False, "expose": False,
                                "service_config": {"ssh": {"banner": "SSH-2.0-OpenSSH_8.4"}},
                                "meta": {"owner": "it"}}},
    {"decky": "ws01", "patch": {"images": {"ssh": SERVICES["ssh"].image}}},
    {"decky": "ws01", "patch": {"meta": {"absent": None}}},
    {"decky": "gw01", "services": ["ssh", "http"], "patch": {"forwards_l3": True}},
])
def test_update_decky_with_same_values_is_idempotent(topo: ResolvedTopology,
                                                     payload: dict[str, Any]) -> None:
    result = apply(topo, "update_decky", payload)
    assert not result.changed
    assert result.topology is topo and result.topology.hash == topo.hash


@pytest.mark.parametrize(("payload", "code"), [
    ({"decky": "ws01", "patch": {"expose": "yes"}}, "SCHEMA"),
    ({"decky": "ws01", "patch": {"forwards_l3": 1}}, "SCHEMA"),
    ({"decky": "ws01", "patch": {"meta": 0}}, "SCHEMA"),
    ({"decky": "ws01", "patch": {"meta": "x"}}, "SCHEMA"),
    ({"decky": "ws01", "patch": {"service_config": 0}}, "SCHEMA"),
    ({"decky": "ws01", "patch": {"service_config": {"ssh": "loud"}}}, "SCHEMA"),
    ({"decky": "ws01", "patch": {"images": "acme/all"}}, "SCHEMA"),
    ({"decky": "ws01", "patch": {"images": {"ssh": 5}}}, "SCHEMA"),
    ({"decky": "ws01", "patch": {"images": {"ssh": 0}}}, "SCHEMA"),
    ({"decky": "ws01", "patch": {"images": {"ftp": "acme/ftp"}}}, "SERVICE_CFG_UNDECLARED"),
    ({"decky": "ws01", "patch": {"service_config": {"http": {}}}}, "SERVICE_CFG_UNDECLARED"),
    ({"decky": "ws01", "patch": {"service_config": {"ssh": {"colour": 1}}}},
     "SERVICE_CFG_INVALID"),
    ({"decky": "ws01", "patch": {"expose": True}}, "EXPOSE_NOT_IN_DMZ"),
    ({"decky": "ws01", "services": ["gopher"]}, "UNKNOWN_SERVICE"),
])
def test_update_decky_breaking_an_invariant(topo: ResolvedTopology, payload: dict[str, Any],
                                            code: str) -> None:
    assert code in invalid(topo, "update_decky", payload)


def test_update_decky_expose_port_collision(topo: ResolvedTopology) -> None:
    # gw01 (DMZ-homed) runs ssh; once www01 publishes ssh too, gw01 cannot also expose it
    assert apply(topo, "update_decky", {"decky": "gw01", "patch": {"expose": True}}).changed
    topo2 = chain(topo, ("update_decky", {"decky": "www01", "services": ["https", "ssh"]}))
    codes = invalid(topo2, "update_decky", {"decky": "gw01", "patch": {"expose": True}})
    assert codes == {"PORT_COLLISION"}


def test_update_decky_unknown(topo: ResolvedTopology) -> None:
    code = refused(topo, "update_decky", {"decky": "ghost", "patch": {"meta": {}}})
    assert code == "NOT_FOUND"


def test_update_decky_patch_is_not_shared_with_the_payload(topo: ResolvedTopology) -> None:
    payload = {"decky": "ws01", "patch": {"meta": {"tags": ["x"]}}}
    result = apply(topo, "update_decky", payload)
    payload["patch"]["meta"]["tags"].append("leak")
    assert result.topology.decky("ws01").meta["tags"] == ["x"]


# --- remove_decky --------------------------------------------------------------------------


def test_remove_decky(topo: ResolvedTopology) -> None:
    result = apply(topo, "remove_decky", {"decky": "lab01"})
    assert result.changed
    assert result.topology.decky("lab01") is None
    assert [d.name for d in result.topology.deckies] == ["gw01", "www01", "ws01", "br02"]
    assert result.topology.hash != topo.hash


def test_remove_absent_decky_is_refused_as_already_there(topo: ResolvedTopology) -> None:
    from decnet_lib.mutations.transform import already_there

    with pytest.raises(OpRefused) as caught:
        apply(topo, "remove_decky", {"decky": "ghost"})
    assert caught.value.code == "NOT_FOUND" and already_there("remove_decky", caught.value)


def test_remove_the_only_bridge_of_a_populated_lan(topo: ResolvedTopology) -> None:
    assert invalid(topo, "remove_decky", {"decky": "br02"}) == {"LAN_UNREACHABLE"}
    assert "LAN_UNREACHABLE" in invalid(topo, "remove_decky", {"decky": "gw01"})


def test_remove_bridge_of_an_empty_lan_is_fine(topo: ResolvedTopology) -> None:
    topo2 = chain(topo, ("remove_decky", {"decky": "lab01"}))
    result = apply(topo2, "remove_decky", {"decky": "br02"})
    assert result.changed  # lab is now empty: only a LAN_EMPTY warning


# --- update_lan ----------------------------------------------------------------------------


def test_update_lan_meta_patch(topo: ResolvedTopology) -> None:
    result = apply(topo, "update_lan", {"name": "lab", "patch": {"meta": {"floor": None,
                                                                          "room": "b12"}}})
    assert result.changed
    assert result.topology.lan("lab").meta == {"room": "b12"}
    assert result.topology.hash == topo.hash


def test_update_lan_driver_patch(topo: ResolvedTopology) -> None:
    result = apply(topo, "update_lan", {"name": "lab", "patch": {"driver": "macvlan",
                                                                 "parent": "eth1"}})
    lan = result.topology.lan("lab")
    assert (lan.driver, lan.parent) == ("macvlan", "eth1")
    assert result.topology.hash != topo.hash
    back = apply(result.topology, "update_lan", {"name": "lab", "patch": {"driver": "bridge",
                                                                          "parent": None}})
    assert back.topology.hash == topo.hash


@pytest.mark.parametrize("patch", [
    {}, {"meta": {"floor": 2}}, {"subnet": "172.20.2.0/24"}, {"dmz": False},
    {"driver": "bridge"}, {"parent": None},
])
def test_update_lan_same_values_is_idempotent(topo: ResolvedTopology,
                                              patch: dict[str, Any]) -> None:
    result = apply(topo, "update_lan", {"name": "lab", "patch": patch})
    assert not result.changed and result.topology is topo


@pytest.mark.parametrize("patch", [
    {"subnet": "172.20.9.0/24"}, {"dmz": True}, {"dmz": None}, {"subnet": None},
    {"meta": {"a": 1}, "subnet": "10.0.0.0/24"},
])
def test_update_lan_subnet_or_dmz_is_frozen(topo: ResolvedTopology,
                                            patch: dict[str, Any]) -> None:
    assert refused(topo, "update_lan", {"name": "lab", "patch": patch}) == "LAN_FROZEN"


@pytest.mark.parametrize("patch", [
    {"driver": "macvlan"},  # needs a parent
    {"parent": "eth0"},  # a bridge takes none
    {"driver": "token-ring", "parent": "eth0"},
    {"meta": 0},
    {"meta": ["a"]},
])
def test_update_lan_breaking_the_schema(topo: ResolvedTopology, patch: dict[str, Any]) -> None:
    assert invalid(topo, "update_lan", {"name": "lab", "patch": patch}) == {"SCHEMA"}


def test_update_lan_unknown(topo: ResolvedTopology) -> None:
    assert refused(topo, "update_lan", {"name": "nowhere", "patch": {}}) == "NOT_FOUND"


# --- bad payloads --------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["drop_table", "", "ADD_LAN", None, 5, ["add_lan"]])
def test_unknown_op(topo: ResolvedTopology, op: Any) -> None:
    assert "unknown op" in bad(topo, op, {"name": "x"})


@pytest.mark.parametrize("payload", [None, [], ["name"], "name=x", 5, True])
@pytest.mark.parametrize("op", ["add_lan", "remove_decky", "update_decky"])
def test_non_object_payload(topo: ResolvedTopology, op: str, payload: Any) -> None:
    assert "JSON object" in bad(topo, op, payload)


@pytest.mark.parametrize(("op", "payload"), [
    ("add_lan", {"name": "x", "colour": "red"}),
    ("remove_lan", {"name": "lab", "force": True}),
    ("add_decky", {"name": "x", "lan": "lab", "home": "lab"}),
    ("attach_decky", {"decky": "ws01", "lan": "lab", "mac": "aa"}),
    ("detach_decky", {"decky": "ws01", "lan": "lab", "ip": None}),
    ("update_decky", {"decky": "ws01", "name": "ws02"}),
    ("remove_decky", {"decky": "ws01", "name": "ws01"}),
    ("update_lan", {"name": "lab", "patch": {}, "subnet": "10.0.0.0/24"}),
])
def test_unknown_payload_field(topo: ResolvedTopology, op: str, payload: dict[str, Any]) -> None:
    assert "unknown field" in bad(topo, op, payload)


@pytest.mark.parametrize(("op", "payload"), [
    ("add_lan", {"name": 5}),
    ("add_lan", {"name": "x", "dmz": "yes"}),
    ("add_lan", {"name": "x", "dmz": 1}),
    ("add_lan", {"name": "x", "subnet": ["10.0.0.0/24"]}),
    ("add_decky", {"name": "x", "lan": "lab", "services": "ssh"}),
    ("add_decky", {"name": "x", "lan": "lab", "services": [22]}),
    ("add_decky", {"name": "x", "lan": "lab", "expose": "false"}),
    ("add_decky", {"name": "x", "lan": "lab", "service_config": {"ssh": "loud"}}),
    ("add_decky", {"name": "x", "lan": "lab", "ip": 167772161}),
    ("attach_decky", {"decky": "ws01", "lan": None}),
    ("update_decky", {"decky": "ws01", "patch": "meta"}),
    ("update_decky", {"decky": "ws01", "services": "ssh"}),
    ("update_lan", {"name": "lab", "patch": None}),
    ("remove_decky", {"decky": ["ws01"]}),
])
def test_wrong_type(topo: ResolvedTopology, op: str, payload: dict[str, Any]) -> None:
    bad(topo, op, payload)


@pytest.mark.parametrize(("op", "payload"), [
    ("add_lan", {}), ("add_decky", {"name": "x"}), ("attach_decky", {"decky": "ws01"}),
    ("detach_decky", {"lan": "lab"}), ("update_decky", {}), ("remove_decky", {}),
    ("update_lan", {"name": "lab"}), ("remove_lan", {}),
])
def test_missing_field(topo: ResolvedTopology, op: str, payload: dict[str, Any]) -> None:
    assert "required" in bad(topo, op, payload).lower()


@pytest.mark.parametrize(("op", "payload"), [
    ("update_decky", {"decky": "ws01", "patch": {"name": "ws02"}}),
    ("update_decky", {"decky": "ws01", "patch": {"lans": {}}}),
    ("update_decky", {"decky": "ws01", "patch": {"services": ["ssh"]}}),
    ("update_decky", {"decky": "ghost", "patch": {"id": "x"}}),
    ("update_lan", {"name": "lab", "patch": {"name": "lab2"}}),
    ("update_lan", {"name": "lab", "patch": {"gateway": "172.20.2.254"}}),
])
def test_patch_of_a_field_that_cannot_be_patched(topo: ResolvedTopology, op: str,
                                                 payload: dict[str, Any]) -> None:
    assert "cannot patch" in bad(topo, op, payload)


# --- purity and the hash, across every op --------------------------------------------------

CASES: list[tuple[str, dict[str, Any]]] = [
    ("add_lan", {"name": "spare"}),
    ("add_lan", {"name": "spare", "subnet": "172.20.2.0/25"}),
    ("remove_lan", {"name": "office"}),
    ("add_decky", {"name": "db01", "lan": "lab", "archetype": "database-server"}),
    ("add_decky", {"name": "db01", "lan": "lab", "ip": "172.20.2.2"}),
    ("attach_decky", {"decky": "lab01", "lan": "office"}),
    ("attach_decky", {"decky": "lab01", "lan": "office", "ip": "172.20.1.3"}),
    ("detach_decky", {"decky": "br02", "lan": "lab"}),
    ("update_decky", {"decky": "ws01", "services": ["ssh"], "patch": {"meta": {"owner": None},
                                                                      "expose": False}}),
    ("update_decky", {"decky": "ws01", "patch": {"meta": {"tags": None}}}),
    ("update_decky", {"decky": "ws01", "patch": {"expose": "yes"}}),
    ("remove_decky", {"decky": "lab01"}),
    ("remove_decky", {"decky": "br02"}),
    ("update_lan", {"name": "lab", "patch": {"meta": None}}),
    ("update_lan", {"name": "lab", "patch": {"dmz": True}}),
]


def _outcomes(topology: ResolvedTopology) -> Iterator[tuple[str, dict[str, Any], Any]]:
    for op, payload in CASES:
        before = topology.model_dump()
        try:
            outcome: Any = apply_op(topology, op, payload)
        except (OpRefused, InvalidTopology, BadPayload) as exc:
            outcome = exc
        assert topology.model_dump() == before, (op, payload)
        yield op, payload, outcome


def test_input_untouched_and_hash_tracks_the_deployment(topo: ResolvedTopology) -> None:
    pristine = build_sample().model_dump()
    kinds = set()
    for op, payload, outcome in _outcomes(topo):
        if isinstance(outcome, Exception):
            kinds.add(type(outcome).__name__)
            continue
        kinds.add("ok")
        new = outcome.topology
        assert new.hash == canonical_hash(new.model_dump())
        # the hash changes exactly when the deployment-relevant view changes
        old_view = {k: v for k, v in topo.model_dump().items() if k != "hash"}
        new_view = {k: v for k, v in new.model_dump().items() if k != "hash"}
        assert outcome.changed == (old_view != new_view), (op, payload)
        deployment_changed = canonical_hash(new.model_dump()) != canonical_hash(
            topo.model_dump())
        assert (new.hash != topo.hash) == deployment_changed, (op, payload)
    assert kinds == {"ok", "OpRefused", "InvalidTopology"}
    # ids are random per resolve; compare everything else with a fresh sample
    strip = _without_ids
    assert strip(topo.model_dump()) == strip(pristine)


def _without_ids(data: dict[str, Any]) -> dict[str, Any]:
    return {
        **{k: v for k, v in data.items() if k not in ("id", "lans", "deckies")},
        "lans": [{k: v for k, v in lan.items() if k != "id"} for lan in data["lans"]],
        "deckies": [{k: v for k, v in d.items() if k != "id"} for d in data["deckies"]],
    }


def test_ids_survive_ops(topo: ResolvedTopology) -> None:
    result = apply(topo, "update_decky", {"decky": "ws01", "services": ["ssh"]})
    assert result.topology.id == topo.id
    assert [d.id for d in result.topology.deckies] == [d.id for d in topo.deckies]
    assert [lan.id for lan in result.topology.lans] == [lan.id for lan in topo.lans]


def test_meta_only_changes_keep_the_hash(topo: ResolvedTopology) -> None:
    current = chain(topo,
                    ("update_decky", {"decky": "gw01", "patch": {"meta": {"x": 1}}}),
                    ("update_lan", {"name": "office", "patch": {"meta": {"note": "n"}}}))
    assert current.hash == topo.hash
    changed = chain(current, ("update_decky", {"decky": "gw01", "services": ["ssh"]}))
    assert changed.hash != topo.hash


def test_status_is_kept(topo: ResolvedTopology) -> None:
    live = topo.model_copy(update={"status": "active"})
    result = apply(live, "add_decky", {"name": "db01", "lan": "lab"})
    assert result.topology.status == "active"


# --- RFC 7386 merge patch ------------------------------------------------------------------

RFC_7386_EXAMPLES = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize(("target", "patch", "expected"), RFC_7386_EXAMPLES)
def test_merge_patch_rfc_7386_examples(target: Any, patch: Any, expected: Any) -> None:
    target_copy, patch_copy = copy.deepcopy(target), copy.deepcopy(patch)
    assert merge_patch(target, patch) == expected
    assert (target, patch) == (target_copy, patch_copy)  # neither is modified


def test_deeply_nested_payload_is_refused_before_queueing() -> None:
    from decnet_lib.mutations.payloads import BadPayload, parse_payload

    deep: dict = {}
    node = deep
    for _ in range(2000):
        node["x"] = {}
        node = node["x"]
    with pytest.raises(BadPayload, match="nests deeper"):
        parse_payload("update_decky", {"decky": "gw01", "patch": {"meta": deep}})
