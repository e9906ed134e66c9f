"""Property: random sequences of random (often invalid) ops never leave an invalid topology.

Each step applies one op to the current topology and keeps the result only when `apply_op`
succeeds. Whatever happens, the current topology has no error issue, its stored hash is the
canonical hash of its content, failures leave it untouched, and every successful op is
idempotent (applying it again changes nothing). Only BadPayload, OpRefused and
InvalidTopology may escape `apply_op`: anything else is a bug.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from decnet_lib.catalog import ARCHETYPES, SERVICES
from decnet_lib.errors import InvalidTopology
from decnet_lib.mutations.invariants import invariant_errors
from decnet_lib.mutations.ops import OpContext, OpRefused
from decnet_lib.mutations.payloads import BadPayload
from decnet_lib.mutations.transform import already_there, apply_op
from decnet_lib.topology.hashing import canonical_hash
from decnet_lib.topology.loader import decode_document
from decnet_lib.topology.resolve import resolve
from decnet_lib.topology.resolved import ResolvedTopology
from decnet_lib.validation.context import Neighbour, ValidationContext
from decnet_lib.validation.validate import validate_data

SAMPLE = b"""
name: acme
lans:
  - {name: dmz, subnet: 172.20.0.0/24, dmz: true}
  - {name: office, subnet: 172.20.1.0/24}
  - {name: lab, subnet: 172.20.2.0/29}
deckies:
  - name: gw01
    archetype: linux-server
    services: [http]
    lans: {dmz: 172.20.0.10, office: null}
    forwards_l3: true
  - {name: www01, services: [https], lans: {dmz: null}, expose: true}
  - name: ws01
    services: [smb, ssh]
    lans: {office: 172.20.1.20}
    service_config: {ssh: {banner: "SSH-2.0-OpenSSH_8.4"}}
  - {name: br02, services: [ssh], lans: {office: null, lab: null}, forwards_l3: true}
  - {name: lab01, services: [telnet], lans: {lab: null}}
"""

OPS = ["add_lan", "remove_lan", "add_decky", "attach_decky", "detach_decky",
       "update_decky", "remove_decky", "update_lan"]
OP_CONTEXT = OpContext(used_subnets=("172.20.3.0/24",), pool="172.20.0.0/21")
VALIDATION_CONTEXT = ValidationContext(
    (Neighbour("other", subnets=("172.20.5.0/24",), exposed_ports=((25, "tcp"),)),)
)


def build_sample() -> ResolvedTopology:
    doc, issues = validate_data(decode_document(SAMPLE))
    assert doc is not None, issues
    return resolve(doc)


BASE = build_sample()

# names: mostly existing or fresh valid ones, sometimes invalid
lan_names = st.one_of(st.sampled_from(["dmz", "office", "lab", "spare", "edge"]),
                      st.sampled_from(["office", "lab", "spare", "Bad LAN", ""]))
decky_names = st.one_of(st.sampled_from(["gw01", "www01", "ws01", "br02", "lab01"]),
                        st.sampled_from(["db01", "db02", "ws01", "X", "a" * 40]))
subnets = st.sampled_from([
    "172.20.2.0/29", "172.20.4.0/24", "172.20.6.0/24", "172.20.5.0/24", "172.20.1.0/25",
    "10.1.0.0/29", "10.1.0.0/30", "10.1.0.1/24", "nonsense", "172.20.0.0/16",
])
ips = st.sampled_from([
    "172.20.0.2", "172.20.0.10", "172.20.0.50", "172.20.1.2", "172.20.1.20", "172.20.1.99",
    "172.20.2.2", "172.20.2.6", "172.20.2.7", "172.20.4.9", "10.1.0.3", "172.20.1.1",
    "nope", "",
])
service_names = st.sampled_from([*sorted(SERVICES), "gopher"])
services = st.lists(service_names, max_size=4)
archetypes = st.sampled_from([*sorted(ARCHETYPES), "mainframe"])
json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-2, 2), st.sampled_from(
    ["", "x", "yes", "SSH-2.0-test", "acme/img:1", "ACME"]))
config_keys = st.sampled_from(["banner", "workgroup", "page_title", "anonymous", "version",
                               "colour", "community"])
service_config = st.dictionaries(
    service_names,
    st.one_of(st.dictionaries(config_keys, json_leaf, max_size=2), json_leaf),
    max_size=2,
)
decky_patch = st.fixed_dictionaries({}, optional={
    "forwards_l3": st.one_of(st.booleans(), st.none(), json_leaf),
    "expose": st.one_of(st.booleans(), st.none(), json_leaf),
    "service_config": st.one_of(service_config, st.none(), json_leaf),
    "images": st.one_of(st.dictionaries(service_names, json_leaf, max_size=2), json_leaf),
    "meta": st.one_of(st.dictionaries(st.sampled_from(["a", "b"]), json_leaf, max_size=2),
                      json_leaf),
})
lan_patch = st.fixed_dictionaries({}, optional={
    "meta": st.one_of(st.dictionaries(st.sampled_from(["a", "b"]), json_leaf, max_size=2),
                      json_leaf),
    "driver": st.sampled_from(["bridge", "macvlan", "ipvlan", "token-ring", None]),
    "parent": st.sampled_from(["eth0", None, ""]),
    "subnet": st.one_of(subnets, st.none()),
    "dmz": st.one_of(st.booleans(), st.none()),
})

PAYLOADS: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "add_lan": st.fixed_dictionaries({"name": lan_names}, optional={
        "subnet": st.one_of(subnets, st.none()), "dmz": st.booleans()}),
    "remove_lan": st.fixed_dictionaries({"name": lan_names}),
    "add_decky": st.fixed_dictionaries({"name": decky_names, "lan": lan_names}, optional={
        "services": st.one_of(services, st.none()), "archetype": st.one_of(archetypes,
                                                                           st.none()),
        "ip": st.one_of(ips, st.none()), "forwards_l3": st.booleans(),
        "expose": st.booleans(), "service_config": service_config}),
    "attach_decky": st.fixed_dictionaries({"decky": decky_names, "lan": lan_names}, optional={
        "ip": st.one_of(ips, st.none())}),
    "detach_decky": st.fixed_dictionaries({"decky": decky_names, "lan": lan_names}),
    "update_decky": st.fixed_dictionaries({"decky": decky_names}, optional={
        "patch": st.one_of(decky_patch, st.none()), "services": st.one_of(services, st.none())}),
    "remove_decky": st.fixed_dictionaries({"decky": decky_names}),
    "update_lan": st.fixed_dictionaries({"name": lan_names, "patch": lan_patch}),
}


@st.composite
def steps(draw: st.DrawFn) -> tuple[Any, Any]:
    """One (op, payload): mostly well-formed, sometimes broken in shape."""
    op = draw(st.sampled_from(OPS))
    payload: Any = draw(PAYLOADS[op])
    mangle = draw(st.integers(0, 19))  # 0..14 (hypothesis favours small ones): keep as is
    if mangle == 15:
        op = draw(st.sampled_from(["drop_all", "ADD_LAN", ""]))
    elif mangle == 16:
        payload = draw(st.one_of(st.none(), st.lists(st.integers(), max_size=2), st.text(
            max_size=3)))
    elif mangle == 17:
        payload = {**payload, draw(st.sampled_from(["extra", "id", "hash"])): 1}
    elif mangle == 18 and payload:
        key = draw(st.sampled_from(sorted(payload)))
        payload = {**payload, key: draw(st.one_of(st.integers(), st.lists(st.text(
            max_size=2), max_size=2), st.booleans()))}
    elif mangle == 19 and "patch" in payload and isinstance(payload["patch"], dict):
        payload = {**payload, "patch": {**payload["patch"], draw(st.sampled_from(
            ["name", "lans", "gateway", "services"])): "x"}}
    return op, payload


def check_consistent(topology: ResolvedTopology) -> None:
    assert invariant_errors(topology, VALIDATION_CONTEXT) == []
    assert invariant_errors(topology) == []
    assert topology.hash == canonical_hash(topology.model_dump())


@settings(max_examples=400, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(steps(), min_size=1, max_size=20))
def test_random_op_sequences_keep_the_topology_valid(sequence: list[tuple[Any, Any]]) -> None:
    current = BASE
    check_consistent(current)
    for op, payload in sequence:
        before = current.model_dump()
        try:
            result = apply_op(current, op, payload, OP_CONTEXT, VALIDATION_CONTEXT)
        except (BadPayload, OpRefused) as exc:
            assert exc.message and "\n" not in exc.message
            assert current.model_dump() == before
            continue
        except InvalidTopology as exc:
            assert exc.issues and all(issue.severity == "error" for issue in exc.issues)
            assert current.model_dump() == before
            continue
        assert current.model_dump() == before, "apply_op modified its input"
        if not result.changed:
            assert result.topology is current
        check_consistent(result.topology)
        try:
            again = apply_op(result.topology, op, payload, OP_CONTEXT, VALIDATION_CONTEXT)
        except OpRefused as exc:  # e.g. removing what is gone: refused, "already there"
            assert already_there(op, exc), f"{op} {payload} is not idempotent: {exc}"
        else:
            assert not again.changed, f"{op} {payload} is not idempotent"
            assert again.topology is result.topology
        current = result.topology


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(st.lists(st.tuples(st.sampled_from(["db01", "db02", "db03", "db04", "db05"]),
                          st.sampled_from(["dmz", "office", "lab"])), max_size=10))
def test_valid_growth_always_applies(additions: list[tuple[str, str]]) -> None:
    """Adding fresh plain deckies to reachable LANs succeeds until a subnet is full."""
    current = BASE
    for name, lan in additions:
        try:
            result = apply_op(current, "add_decky", {"name": name, "lan": lan}, OP_CONTEXT,
                              VALIDATION_CONTEXT)
        except OpRefused as exc:
            existing = current.decky(name)
            assert exc.code in ("DECKY_NAME_DUP", "SUBNET_TOO_SMALL"), exc
            assert existing is not None or lan == "lab"
            continue
        decky = result.topology.decky(name)
        assert decky is not None and decky.home == lan
        check_consistent(result.topology)
        current = result.topology
    assert len({ip for d in current.deckies for ip in d.lans.items()}) == sum(
        len(d.lans) for d in current.deckies)
