"""The random maze generator: always valid, deterministic, bridged, collision-free."""

from __future__ import annotations

import ipaddress
import time
from collections import Counter
from typing import Any

import orjson
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from decnet_lib.catalog import SERVICES
from decnet_lib.topology.addressing import parse_ip, parse_ip_int
from decnet_lib.topology.generator import (
    GeneratorParams,
    carve_subnets,
    count_lans,
    dump_document,
    generate,
    parse_range,
    pick_format,
)
from decnet_lib.topology.loader import decode_document, parse_document
from decnet_lib.topology.safe_yaml import _FastSafeLoader
from decnet_lib.validation.context import Neighbour, ValidationContext
from decnet_lib.validation.validate import validate_document

PROPERTY = settings(max_examples=100, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
CATALOG = sorted(SERVICES)
ALL_PORTS = sorted({(p.number, p.protocol) for s in SERVICES.values() for p in s.ports})
POOL = ipaddress.ip_network("172.20.0.0/14")


# --- strategies ------------------------------------------------------------------------

@st.composite
def params_strategy(draw: st.DrawFn) -> GeneratorParams:
    """Valid parameters within sane ranges (at most 85 LANs of at most 8 deckies)."""
    depth = draw(st.integers(0, 3))
    branching = draw(st.integers(1, 4))
    low = draw(st.integers(0, 5))
    high = draw(st.integers(max(low, 1), 8))
    # a /28 holds 13 deckies; pick a prefix with room for the deckies plus child bridges
    prefixes = [p for p in range(24, 29) if 2 ** (32 - p) - 3 >= high + branching]
    services = draw(st.none() | st.lists(st.sampled_from(CATALOG), max_size=4, unique=True)
                    .map(tuple))
    return GeneratorParams(
        name=draw(st.from_regex(r"[a-z][a-z0-9-]{0,15}", fullmatch=True)),
        depth=depth,
        branching=branching,
        deckies_min=low,
        deckies_max=high,
        cross_edge_p=draw(st.floats(0, 1)),
        services=services,
        seed=draw(st.integers(-(2**63), 2**63)),
        prefix=draw(st.sampled_from(prefixes)),
        expose_p=draw(st.floats(0, 1)),
    )


used_subnets_strategy = st.lists(
    st.builds(
        lambda offset, prefix: str(ipaddress.ip_network(
            (int(POOL.network_address) + offset * 256, prefix), strict=False)),
        st.integers(0, 1023),
        st.integers(20, 28),
    ),
    max_size=5,
)
used_ports_strategy = st.lists(st.sampled_from(ALL_PORTS), max_size=8, unique=True)


# --- helpers ---------------------------------------------------------------------------

def context_for(used_subnets: list[str], used_ports: list[tuple[int, str]]) -> ValidationContext:
    return ValidationContext(neighbours=(
        Neighbour("other", subnets=tuple(used_subnets), exposed_ports=tuple(used_ports)),
    ))


def exposed_ports(decky: dict[str, Any]) -> set[tuple[int, str]]:
    return {(p.number, p.protocol) for s in decky["services"] for p in SERVICES[s].ports}


def home(decky: dict[str, Any]) -> str:
    return next(iter(decky["lans"]))


def parent_of(index: int, branching: int) -> int:
    """Breadth-first LAN order: LAN i > 0 hangs below LAN (i - 1) // branching."""
    return (index - 1) // branching


# --- properties ------------------------------------------------------------------------

@PROPERTY
@given(params_strategy(), used_subnets_strategy, used_ports_strategy)
def test_always_valid(params: GeneratorParams, used_subnets: list[str],
                      used_ports: list[tuple[int, str]]) -> None:
    doc = generate(params, used_subnets=used_subnets, used_ports=used_ports)
    parsed, schema_issues = parse_document(doc)
    assert parsed is not None, schema_issues
    issues = validate_document(parsed, context_for(used_subnets, used_ports))
    assert [str(i) for i in issues] == []  # no errors, and no LAN_EMPTY either
    assert len(doc["lans"]) == count_lans(params.depth, params.branching)
    for decky in doc["deckies"]:
        assert all(ip is not None for ip in decky["lans"].values())


@PROPERTY
@given(params_strategy())
def test_deterministic_per_seed(params: GeneratorParams) -> None:
    first, second = generate(params), generate(params)
    assert first == second
    for fmt in ("yaml", "json"):
        assert dump_document(first, fmt).encode() == dump_document(second, fmt).encode()


@PROPERTY
@given(params_strategy())
def test_every_lan_bridged_into_its_parent(params: GeneratorParams) -> None:
    doc = generate(params)
    names = [lan["name"] for lan in doc["lans"]]
    assert [lan.get("dmz", False) for lan in doc["lans"]] == [True] + [False] * (len(names) - 1)
    for index in range(1, len(names)):
        child, parent = names[index], names[parent_of(index, params.branching)]
        assert any(
            home(d) == child and parent in d["lans"] and d["forwards_l3"]
            for d in doc["deckies"]
        ), f"{child} is not bridged into {parent}"


@PROPERTY
@given(params_strategy())
def test_deckies_per_lan_in_range(params: GeneratorParams) -> None:
    doc = generate(params)
    homed = Counter(home(d) for d in doc["deckies"])
    members = Counter(lan for d in doc["deckies"] for lan in d["lans"])
    for index, lan in enumerate(doc["lans"]):
        low = params.deckies_min if index == 0 and len(doc["lans"]) > 1 else max(
            params.deckies_min, 1)
        assert low <= homed[lan["name"]] <= params.deckies_max
        assert members[lan["name"]] >= 1
    for decky in doc["deckies"]:
        if params.services is None:
            assert 1 <= len(decky["services"]) <= 3
            assert set(decky["services"]) <= set(SERVICES)
        else:
            assert decky["services"] == list(params.services)


@PROPERTY
@given(params_strategy(), used_subnets_strategy)
def test_no_subnet_overlap(params: GeneratorParams, used_subnets: list[str]) -> None:
    doc = generate(params, used_subnets=used_subnets)
    nets = [ipaddress.ip_network(lan["subnet"]) for lan in doc["lans"]]
    used = [ipaddress.ip_network(s) for s in used_subnets]
    for i, net in enumerate(nets):
        assert net.prefixlen == params.prefix and net.subnet_of(POOL)
        assert not any(net.overlaps(other) for other in nets[i + 1:])
        assert not any(net.overlaps(other) for other in used)


@PROPERTY
@given(params_strategy(), used_ports_strategy)
def test_no_host_port_collision(params: GeneratorParams,
                                used_ports: list[tuple[int, str]]) -> None:
    doc = generate(params, used_ports=used_ports)
    taken = set(used_ports)
    dmz = doc["lans"][0]["name"]
    for decky in doc["deckies"]:
        if decky["expose"]:
            assert home(decky) == dmz
            ports = exposed_ports(decky)
            assert ports and taken.isdisjoint(ports)
            taken |= ports


@settings(max_examples=80, deadline=None)
@given(
    depth=st.integers(-5, 3), branching=st.integers(-2, 3),
    low=st.integers(-3, 6), high=st.integers(-3, 6),
    prefix=st.integers(10, 32), p=st.floats(-1, 2) | st.just(float("nan")),
)
def test_bad_params_raise_value_error(depth: int, branching: int, low: int, high: int,
                                      prefix: int, p: float) -> None:
    usable = 2 ** (32 - prefix) - 3
    valid = (depth >= 0 and branching >= 1 and low >= 0 and high >= 1 and low <= high
             and 14 <= prefix <= 29 and 0 <= p <= 1
             and usable >= high + (branching if depth > 0 else 0)
             and 2 ** (prefix - 14) >= count_lans(depth, max(branching, 1)))
    kwargs: dict[str, Any] = {"depth": depth, "branching": branching, "deckies_min": low,
                              "deckies_max": high, "prefix": prefix, "cross_edge_p": p}
    if valid:
        GeneratorParams("ok", **kwargs)
    else:
        with pytest.raises(ValueError):
            GeneratorParams("ok", **kwargs)


# --- examples --------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"deckies_min": 4, "deckies_max": 2}, "min 4 is greater than max 2"),
        ({"depth": -1}, "depth"),
        ({"branching": 0}, "branching"),
        ({"services": ("ssh", "gopher")}, "unknown service 'gopher'"),
        ({"services": ("ssh", "ssh")}, "twice"),
        ({"depth": 3, "branching": 10}, "fewer than the 1111 LANs"),
        ({"prefix": 29, "deckies_max": 5}, "usable addresses"),
        ({"prefix": 30}, "between"),
        ({"prefix": 12}, "between"),
        ({"base": "172.20.0.1/14"}, "not an IPv4 network"),
        ({"base": "fd00::/64"}, "not an IPv4 network"),
        ({"cross_edge_p": 1.5}, "cross_edge_p"),
        ({"expose_p": float("nan")}, "expose_p"),
        ({"depth": True}, "integer"),
        ({"seed": "x"}, "seed"),
        ({"depth": 6, "branching": 10}, "LANs"),
    ],
)
def test_bad_params_examples(kwargs: dict[str, Any], needle: str) -> None:
    with pytest.raises(ValueError, match=needle.replace("(", r"\(")):
        GeneratorParams("acme", **kwargs)


def test_bad_name() -> None:
    with pytest.raises(ValueError, match="not allowed"):
        GeneratorParams("Bad_Name")


def test_services_list_is_normalised_to_a_tuple() -> None:
    assert GeneratorParams("acme", services=["ssh", "http"]).services == ("ssh", "http")  # type: ignore[arg-type]


def test_depth_zero_is_a_dmz_with_deckies() -> None:
    doc = generate(GeneratorParams("solo", depth=0, deckies_min=0, deckies_max=1, seed=3))
    assert [lan["name"] for lan in doc["lans"]] == ["dmz"]
    assert len(doc["deckies"]) == 1


def test_default_document_shape() -> None:
    doc = generate(GeneratorParams("acme", seed=42))
    assert list(doc) == ["name", "lans", "deckies"]
    assert doc["lans"][0] == {"name": "dmz", "subnet": "172.20.0.0/24", "dmz": True,
                              "meta": {"generator": {"seed": 42}}}
    assert doc["lans"][1] == {"name": "lan-1", "subnet": "172.20.1.0/24"}
    assert len(doc["lans"]) == 7
    decky = doc["deckies"][0]
    assert list(decky) == ["name", "services", "lans", "forwards_l3", "expose"]
    assert decky["lans"]["dmz"] == "172.20.0.2"


def test_random_seed_is_recorded_and_replays() -> None:
    params = GeneratorParams("acme", cross_edge_p=0.5, expose_p=0.5)
    first = generate(params)
    seed = first["lans"][0]["meta"]["generator"]["seed"]
    replay = generate(GeneratorParams("acme", cross_edge_p=0.5, expose_p=0.5, seed=seed))
    assert replay == first


def test_different_seeds_differ() -> None:
    a = generate(GeneratorParams("acme", depth=2, branching=3, seed=1))
    b = generate(GeneratorParams("acme", depth=2, branching=3, seed=2))
    assert a != b


def test_used_subnets_are_skipped() -> None:
    doc = generate(GeneratorParams("acme", depth=1, branching=2, seed=1),
                   used_subnets=["172.20.0.0/23", "172.20.3.128/25", "10.0.0.0/8"])
    assert [lan["subnet"] for lan in doc["lans"]] == [
        "172.20.2.0/24", "172.20.4.0/24", "172.20.5.0/24"]


def test_pool_exhausted_by_used_subnets() -> None:
    with pytest.raises(ValueError, match="only 2 free /24 subnets"):
        generate(GeneratorParams("acme", depth=1, branching=2, base="10.9.0.0/22"),
                 used_subnets=["10.9.1.0/24", "10.9.3.0/24"])


def test_malformed_used_subnet() -> None:
    with pytest.raises(ValueError, match="used subnet"):
        generate(GeneratorParams("acme"), used_subnets=["nope"])


def test_carve_skips_large_used_span_quickly() -> None:
    firsts = carve_subnets(ipaddress.ip_network("10.0.0.0/8"), 29, 2, ["10.0.0.0/9"])
    assert firsts == [int(ipaddress.ip_address("10.128.0.0")),
                      int(ipaddress.ip_address("10.128.0.8"))]


def test_expose_all_with_one_service_exposes_exactly_one() -> None:
    params = GeneratorParams("acme", depth=1, branching=2, deckies_min=5, deckies_max=5,
                             services=("ssh",), expose_p=1.0, seed=1)
    doc = generate(params)
    exposed = [d["name"] for d in doc["deckies"] if d["expose"]]
    assert exposed == ["decky-1"]
    assert not any(d["expose"] for d in generate(params, used_ports=[(22, "tcp")])["deckies"])


def test_deaddeck_services_are_never_exposed() -> None:
    doc = generate(GeneratorParams("acme", services=(), expose_p=1.0, seed=5))
    assert not any(d["expose"] for d in doc["deckies"])


def test_cross_edges_add_bridges() -> None:
    base = generate(GeneratorParams("acme", depth=2, branching=3, seed=9))
    crossed = generate(GeneratorParams("acme", depth=2, branching=3, cross_edge_p=1.0, seed=9))
    edges = sum(len(d["lans"]) for d in crossed["deckies"])
    assert edges > sum(len(d["lans"]) for d in base["deckies"])
    assert all(d["forwards_l3"] for d in crossed["deckies"] if len(d["lans"]) > 1)


def test_dump_round_trips_and_is_stable() -> None:
    doc = generate(GeneratorParams("acme", cross_edge_p=0.3, expose_p=0.5, seed=11))
    for fmt in ("yaml", "json"):
        text = dump_document(doc, fmt)
        assert decode_document(text.encode()) == doc
        assert text.endswith("\n")
    assert orjson.loads(dump_document(doc, "json")) == doc
    assert dump_document(doc, "json").startswith('{\n  "name": "acme"')
    assert dump_document(doc, "yaml").startswith("name: acme\nlans:\n- name: dmz\n")
    with pytest.raises(ValueError, match="unknown format"):
        dump_document(doc, "toml")  # type: ignore[arg-type]


@pytest.mark.parametrize(("path", "fmt"), [
    (None, "yaml"), ("maze.json", "json"), ("MAZE.JSON", "json"), ("maze.yaml", "yaml"),
    ("maze.yml", "yaml"), ("maze", "yaml"),
])
def test_pick_format(path: str | None, fmt: str) -> None:
    assert pick_format(path) == fmt


@pytest.mark.parametrize(("text", "pair"), [("2-5", (2, 5)), (" 3 - 3 ", (3, 3)), ("4", (4, 4)),
                                            ("0-1", (0, 1))])
def test_parse_range(text: str, pair: tuple[int, int]) -> None:
    assert parse_range(text) == pair


@pytest.mark.parametrize("text", ["5-2", "a-b", "", "-1-3", "1-", "2-3-4", "1.5-2"])
def test_parse_range_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_range(text)


def test_hundred_thousand_deckies_fast() -> None:
    params = GeneratorParams("big", depth=3, branching=10, deckies_min=90, deckies_max=110,
                             base="10.0.0.0/8", cross_edge_p=0.1, expose_p=0.1, seed=1)
    start = time.perf_counter()
    doc = generate(params)
    elapsed = time.perf_counter() - start
    assert 99_990 <= len(doc["deckies"]) <= 122_210
    assert elapsed < 10, f"generate took {elapsed:.1f} s"


# --- the hot paths sped up for the benchmark behave as before ---------------------------

@settings(max_examples=300, deadline=None)
@given(st.one_of(
    st.integers(0, 2**32 - 1).map(lambda v: str(ipaddress.IPv4Address(v))),
    st.text(alphabet="0123456789. x\n٣", max_size=18),
))
def test_parse_ip_int_matches_ipaddress(text: str) -> None:
    address = parse_ip(text)
    assert parse_ip_int(text) == (None if address is None else int(address))


yaml_scalars = (st.none() | st.booleans() | st.integers() | st.text(max_size=8)
                | st.floats(allow_nan=False))
yaml_data = st.recursive(
    yaml_scalars,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=6) | st.integers(), inner, max_size=4),
    max_leaves=20,
)


def load_both(text: str) -> tuple[str, str]:
    """repr of the result (or the error) of the fast loader and of the safe loader."""
    out = []
    for loader in (_FastSafeLoader, getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
        try:
            out.append(repr(yaml.load(text, Loader=loader)))
        except Exception as exc:  # the error itself is compared
            out.append(f"{type(exc).__name__}: {exc}")
    return out[0], out[1]


@settings(max_examples=150, deadline=None)
@given(yaml_data, st.sampled_from([False, True, None]))
def test_fast_yaml_loader_matches_safe_loader(data: Any, flow: bool | None) -> None:
    text = yaml.safe_dump(data, default_flow_style=flow)
    fast, safe = load_both(text)
    assert fast == safe


@pytest.mark.parametrize("text", [
    "a: &x {b: 1}\nc: *x\n",
    "base: &b {x: 1, y: 2}\nderived:\n  <<: *b\n  y: 3\n",
    "a: &r [1, *r]\n",
    "a: &r {self: *r}\n",
    "when: 2001-12-14t21:59:43.10-05:00\nday: 2002-12-14\n",
    "bad: 2001-13-45\n",
    "blob: !!binary aGVsbG8=\n",
    "s: !!set {a, b}\no: !!omap [a: 1]\n",
    "x: !custom 1\n",
    "? [a, b]\n: 1\n",
    "? {a: 1}\n: 1\n",
    "yes: no\non: off\n~: null\n",
    "= : 1\n",
    "a: !!map foo\n",
    "a: !!str 123\nb: !!int '7'\n",
    "dup: 1\ndup: 2\n",
    "",
    "- [1, 2]\n- {a: [b, {c: d}]}\n",
])
def test_fast_yaml_loader_examples(text: str) -> None:
    fast, safe = load_both(text)
    assert fast == safe


def test_fast_yaml_loader_aliases_share_objects() -> None:
    data = yaml.load("a: &x {b: 1}\nc: *x\n", Loader=_FastSafeLoader)
    assert data["a"] is data["c"]
