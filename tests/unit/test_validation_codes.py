"""Every validation code: a failing example that yields exactly it, and a near miss that doesn't.

Examples are small edits of one valid base document. A new `Code` without a case here fails
`test_every_code_has_a_case`.
"""

from __future__ import annotations

import copy
import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from decnet_lib.issues import Code, Issue, has_errors
from decnet_lib.validation.context import EMPTY_CONTEXT, Neighbour, ValidationContext
from decnet_lib.validation.validate import validate_data

Doc = dict[str, Any]
Edit = Callable[[Doc], None]

BASE: Doc = {
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
            "expose": False,
            "service_config": {"ssh": {"banner": "SSH-2.0-OpenSSH_9.2p1 Debian-2"}},
        },
        {"name": "ws01", "services": ["smb"], "lans": {"office": "172.20.1.20"}},
        {"name": "www01", "services": ["https"], "lans": {"dmz": None}, "expose": True},
    ],
}


def make(*edits: Edit) -> Doc:
    """A deep copy of the base document with `edits` applied in order."""
    doc = copy.deepcopy(BASE)
    for edit in edits:
        edit(doc)
    return doc


def lan(doc: Doc, name: str) -> Doc:
    return next(item for item in doc["lans"] if item["name"] == name)


def decky(doc: Doc, name: str) -> Doc:
    return next(item for item in doc["deckies"] if item["name"] == name)


# --- small edit builders --------------------------------------------------------------------


def set_lan(name: str, /, **values: Any) -> Edit:
    return lambda doc: lan(doc, name).update(values)


def set_decky(name: str, /, **values: Any) -> Edit:
    return lambda doc: decky(doc, name).update(values)


def set_top(**values: Any) -> Edit:
    return lambda doc: doc.update(values)


def add_lan(name: str, subnet: str, /, **values: Any) -> Edit:
    return lambda doc: doc["lans"].append({"name": name, "subnet": subnet, **values})


def add_decky(name: str, lans: dict[str, str | None], /, **values: Any) -> Edit:
    return lambda doc: doc["deckies"].append({"name": name, "lans": dict(lans), **values})


def pin(decky_name: str, lan_name: str, ip: str | None) -> Edit:
    return lambda doc: decky(doc, decky_name)["lans"].__setitem__(lan_name, ip)


def config(decky_name: str, service: str, values: dict[str, Any]) -> Edit:
    return lambda doc: decky(doc, decky_name).setdefault("service_config", {}).__setitem__(
        service, values
    )


def rename_lan(old: str, new: str) -> Edit:
    def edit(doc: Doc) -> None:
        lan(doc, old)["name"] = new
        for item in doc["deckies"]:
            item["lans"] = {new if k == old else k: v for k, v in item["lans"].items()}

    return edit


def raw(fn: Callable[[Doc], Any]) -> Edit:
    """Any edit written inline (its return value is ignored)."""

    def edit(doc: Doc) -> None:
        fn(doc)

    return edit


def nested(levels: int) -> dict[str, Any]:
    """A meta value `levels` containers deep (the meta mapping itself is the first)."""
    value: Any = []
    for _ in range(levels - 2):
        value = [value]
    return {"a": value}


def extra_office_deckies(count: int) -> list[Edit]:
    return [add_decky(f"pc{i:02d}", {"office": None}, services=["rdp"]) for i in range(count)]


# --- the cases ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    code: Code
    label: str
    fail: tuple[Edit, ...]
    near: tuple[Edit, ...]
    target: str
    severity: str = "error"
    fail_context: ValidationContext = EMPTY_CONTEXT
    near_context: ValidationContext = EMPTY_CONTEXT

    @property
    def id(self) -> str:
        return f"{self.code.value}-{self.label}"


def ctx(*neighbours: Neighbour) -> ValidationContext:
    return ValidationContext(neighbours=neighbours)


CASES: list[Case] = [
    # SCHEMA: shape and types, naming the field
    Case(Code.SCHEMA, "unknown-field",
         fail=(raw(lambda d: d["deckies"][0].update(foo=1)),),
         near=(raw(lambda d: d["deckies"][0].update(meta={"foo": 1})),),
         target="deckies[0].foo"),
    Case(Code.SCHEMA, "expose-wrong-type",
         fail=(set_decky("gw01", expose="yes"),),
         near=(set_decky("gw01", expose=True),),
         target="deckies[0].expose"),
    Case(Code.SCHEMA, "missing-subnet",
         fail=(raw(lambda d: d["lans"][1].pop("subnet")),),
         near=(raw(lambda d: d["lans"][1].pop("dmz", None)),),  # optional fields may go
         target="lans[1].subnet"),
    Case(Code.SCHEMA, "ip-wrong-type",
         fail=(pin("ws01", "office", 5),),  # type: ignore[arg-type]
         near=(pin("ws01", "office", None),),
         target="deckies[1].lans.office"),
    Case(Code.SCHEMA, "meta-too-deep",
         fail=(set_decky("ws01", meta=nested(33)),),
         near=(set_decky("ws01", meta=nested(32)),),
         target="deckies[1].meta"),
    Case(Code.SCHEMA, "meta-not-json",
         fail=(set_lan("office", meta={"since": datetime.date(2024, 1, 1)}),),
         near=(set_lan("office", meta={"since": "2024-01-01"}),),
         target="lans[1].meta.since"),
    Case(Code.SCHEMA, "macvlan-without-parent",
         fail=(set_lan("office", driver="macvlan"),),
         near=(set_lan("office", driver="macvlan", parent="eth0"),),
         target="lans.office.parent"),
    # NAME_INVALID, naming the field
    Case(Code.NAME_INVALID, "decky-underscore",
         fail=(set_decky("ws01", name="WS_01"),),
         near=(set_decky("ws01", name="ws-01"),),
         target="deckies[1].name"),
    Case(Code.NAME_INVALID, "topology-too-long",
         fail=(set_top(name="a" * 33),),
         near=(set_top(name="a" * 32),),
         target="name"),
    Case(Code.NAME_INVALID, "lan-starts-with-digit",
         fail=(rename_lan("office", "1office"),),
         near=(rename_lan("office", "office1"),),
         target="lans[1].name"),
    Case(Code.NAME_INVALID, "topology-empty",
         fail=(set_top(name=""),),
         near=(set_top(name="a"),),
         target="name"),
    # the DMZ
    Case(Code.DMZ_MISSING, "no-dmz",
         # (www01 stops exposing: without a DMZ it could not expose either)
         fail=(set_lan("dmz", dmz=False), set_decky("www01", expose=False)),
         near=(raw(lambda d: d["lans"].reverse()),),  # the DMZ need not be the first LAN
         target="lans"),
    Case(Code.DMZ_MULTIPLE, "two-dmz",
         fail=(set_lan("office", dmz=True),),
         near=(set_lan("office", dmz=False),),
         target="lans.office.dmz"),
    # reachability and orphans
    Case(Code.LAN_UNREACHABLE, "island",
         fail=(add_lan("lab", "172.20.2.0/24"), add_decky("lab01", {"lab": None})),
         near=(add_lan("lab", "172.20.2.0/24"),
               add_decky("lab01", {"lab": None, "office": None})),  # via office and gw01
         target="lans.lab"),
    Case(Code.DECKY_ORPHAN, "no-lan",
         fail=(set_decky("ws01", lans={}),),
         near=(set_decky("ws01", lans={"office": None}),),
         target="deckies.ws01.lans"),
    # duplicates
    Case(Code.LAN_NAME_DUP, "two-office",
         fail=(add_lan("office", "172.20.2.0/24"),),
         near=(add_lan("office2", "172.20.2.0/24"),
               add_decky("pc01", {"office2": None, "office": None})),
         target="lans[2].name"),
    Case(Code.DECKY_NAME_DUP, "two-ws01",
         fail=(add_decky("ws01", {"office": None}, services=["ssh"]),),
         near=(add_decky("ws02", {"office": None}, services=["ssh"]),),
         target="deckies[3].name"),
    # addresses
    Case(Code.IP_UNKNOWN_LAN, "no-such-lan",
         fail=(pin("ws01", "lab", None),),
         near=(add_lan("lab", "172.20.2.0/24"), pin("ws01", "lab", None)),
         target="deckies.ws01.lans.lab"),
    Case(Code.IP_MALFORMED, "octet-too-big",
         fail=(pin("ws01", "office", "172.20.1.300"),),
         near=(pin("ws01", "office", "172.20.1.30"),),
         target="deckies.ws01.lans.office"),
    Case(Code.IP_MALFORMED, "not-an-ip",
         fail=(pin("ws01", "office", "ws01.local"),),
         near=(pin("ws01", "office", None),),
         target="deckies.ws01.lans.office"),
    Case(Code.IP_MALFORMED, "ipv6",
         fail=(pin("ws01", "office", "fd00::20"),),
         near=(pin("ws01", "office", "172.20.1.21"),),
         target="deckies.ws01.lans.office"),
    Case(Code.IP_OUT_OF_SUBNET, "other-lans-subnet",
         fail=(pin("ws01", "office", "172.20.0.20"),),
         near=(pin("ws01", "office", "172.20.1.254"),),  # the last usable address
         target="deckies.ws01.lans.office"),
    Case(Code.IP_RESERVED, "network",
         fail=(pin("ws01", "office", "172.20.1.0"),),
         near=(pin("ws01", "office", "172.20.1.2"),),  # the first usable address
         target="deckies.ws01.lans.office"),
    Case(Code.IP_RESERVED, "broadcast",
         fail=(pin("ws01", "office", "172.20.1.255"),),
         near=(pin("ws01", "office", "172.20.1.254"),),
         target="deckies.ws01.lans.office"),
    Case(Code.IP_RESERVED, "gateway",
         fail=(pin("ws01", "office", "172.20.1.1"),),
         near=(pin("ws01", "office", "172.20.1.2"),),
         target="deckies.ws01.lans.office"),
    Case(Code.IP_COLLISION, "same-ip-same-lan",
         fail=(add_decky("ws02", {"office": "172.20.1.20"}, services=["ssh"]),),
         near=(add_decky("ws02", {"office": "172.20.1.21"}, services=["ssh"]),),
         target="deckies.ws02.lans.office"),
    # subnets
    Case(Code.SUBNET_MALFORMED, "host-bits-set",
         fail=(set_lan("office", subnet="172.20.1.1/24"),),
         near=(set_lan("office", subnet="172.20.1.0/25"),),
         target="lans.office.subnet"),
    Case(Code.SUBNET_MALFORMED, "no-prefix",
         fail=(set_lan("office", subnet="172.20.1.0"),),
         near=(set_lan("office", subnet="172.20.1.0/24"),),
         target="lans.office.subnet"),
    Case(Code.SUBNET_MALFORMED, "garbage",
         fail=(set_lan("office", subnet="office-net"),),
         near=(set_lan("office", subnet="172.20.1.0/24"),),
         target="lans.office.subnet"),
    Case(Code.SUBNET_MALFORMED, "ipv6",
         fail=(set_lan("office", subnet="fd00:1::/64"),),
         near=(set_lan("office", subnet="172.20.1.0/24"),),
         target="lans.office.subnet"),
    Case(Code.SUBNET_TOO_SMALL, "slash-30",
         fail=(set_lan("office", subnet="172.20.1.0/30"), pin("ws01", "office", "172.20.1.2")),
         near=(set_lan("office", subnet="172.20.1.0/29"), pin("ws01", "office", "172.20.1.2")),
         target="lans.office.subnet"),
    Case(Code.SUBNET_TOO_SMALL, "six-deckies-on-a-slash-29",
         # a /29 has 5 usable addresses; gw01 + ws01 + 4 more is 6
         fail=(set_lan("office", subnet="172.20.1.0/29"), pin("ws01", "office", None),
               *extra_office_deckies(4)),
         near=(set_lan("office", subnet="172.20.1.0/29"), pin("ws01", "office", None),
               *extra_office_deckies(3)),
         target="lans.office.subnet"),
    Case(Code.SUBNET_RESERVED, "link-local",
         fail=(add_lan("lab", "169.254.169.0/24"),
               add_decky("lab01", {"lab": None, "office": None})),
         near=(add_lan("lab", "172.20.2.0/24"), add_decky("lab01", {"lab": None, "office": None})),
         target="lans.lab.subnet"),
    Case(Code.SUBNET_RESERVED, "loopback",
         fail=(add_lan("lab", "127.0.0.0/24"), add_decky("lab01", {"lab": None, "office": None})),
         near=(add_lan("lab", "128.0.0.0/24"), add_decky("lab01", {"lab": None, "office": None})),
         target="lans.lab.subnet"),
    Case(Code.SUBNET_RESERVED, "half-the-internet-from-zero",
         fail=(add_lan("lab", "0.0.0.0/1"), add_decky("lab01", {"lab": None, "office": None})),
         near=(add_lan("lab", "10.99.0.0/16"), add_decky("lab01", {"lab": None, "office": None})),
         target="lans.lab.subnet"),
    Case(Code.SUBNET_RESERVED, "multicast",
         fail=(add_lan("lab", "224.0.0.0/24"), add_decky("lab01", {"lab": None, "office": None})),
         near=(add_lan("lab", "223.255.0.0/24"), add_decky("lab01", {"lab": None, "office": None})),
         target="lans.lab.subnet"),
    Case(Code.SUBNET_OVERLAP, "inside-the-document",
         fail=(set_lan("dmz", subnet="172.20.0.0/23"),),  # covers office's 172.20.1.0/24
         near=(set_lan("dmz", subnet="172.20.0.0/24"),),  # adjacent is not overlapping
         target="lans.office.subnet"),
    Case(Code.SUBNET_OVERLAP, "identical-subnets",
         fail=(set_lan("office", subnet="172.20.0.0/24"), pin("ws01", "office", None)),
         near=(set_lan("office", subnet="172.20.2.0/24"), pin("ws01", "office", None)),
         target="lans.office.subnet"),
    Case(Code.SUBNET_OVERLAP, "against-a-neighbour",
         fail=(), near=(),
         fail_context=ctx(Neighbour("other", subnets=("172.20.1.128/25",))),
         near_context=ctx(Neighbour("other", subnets=("172.20.2.0/24", "10.0.0.0/8"))),
         target="lans.office.subnet"),
    # services and their config
    Case(Code.UNKNOWN_SERVICE, "gopher",
         fail=(set_decky("ws01", services=["smb", "gopher"]),),
         near=(set_decky("ws01", services=["smb", "ftp"]),),
         target="deckies.ws01.services"),
    Case(Code.UNKNOWN_ARCHETYPE, "mainframe",
         fail=(set_decky("ws01", archetype="mainframe"),),
         near=(set_decky("ws01", archetype="file-server"),),
         target="deckies.ws01.archetype"),
    Case(Code.SERVICE_CFG_UNDECLARED, "config-for-missing-service",
         fail=(config("ws01", "ssh", {"banner": "SSH-2.0-x"}),),
         # the archetype brings ssh, so its config is declared
         near=(set_decky("ws01", archetype="linux-server"),
               config("ws01", "ssh", {"banner": "SSH-2.0-x"})),
         target="deckies.ws01.service_config.ssh"),
    Case(Code.SERVICE_CFG_UNDECLARED, "image-for-missing-service",
         fail=(set_decky("ws01", images={"http": "nginx:1.25"}),),
         near=(set_decky("ws01", images={"smb": "dperson/samba:latest"}),),
         target="deckies.ws01.images.http"),
    Case(Code.SERVICE_CFG_INVALID, "unknown-key",
         fail=(config("gw01", "ssh", {"bogus": 1}),),
         near=(config("gw01", "ssh", {"banner": "SSH-2.0-dropbear"}),),
         target="deckies.gw01.service_config.ssh.bogus"),
    Case(Code.SERVICE_CFG_INVALID, "wrong-type",
         fail=(config("gw01", "http", {"page_title": 5}),),
         near=(config("gw01", "http", {"page_title": "Welcome"}),),
         target="deckies.gw01.service_config.http.page_title"),
    Case(Code.SERVICE_CFG_INVALID, "bool-as-string",
         fail=(set_decky("ws01", services=["smb", "ftp"]),
               config("ws01", "ftp", {"anonymous": "yes"})),
         near=(set_decky("ws01", services=["smb", "ftp"]),
               config("ws01", "ftp", {"anonymous": True})),
         target="deckies.ws01.service_config.ftp.anonymous"),
    Case(Code.SERVICE_CFG_INVALID, "empty-image",
         fail=(set_decky("ws01", images={"smb": "  "}),),
         near=(set_decky("ws01", images={"smb": "dperson/samba:latest"}),),
         target="deckies.ws01.images.smb"),
    Case(Code.SERVICE_CFG_INVALID, "banner-too-long-to-deploy",
         fail=(config("gw01", "ssh", {"banner": "x" * 5_000_000}),),
         near=(config("gw01", "ssh", {"banner": "x" * 4096}),),
         target="deckies.gw01.service_config.ssh.banner"),
    Case(Code.SERVICE_CFG_INVALID, "nul-byte",
         fail=(config("gw01", "ssh", {"banner": "SSH-2.0-a\x00b"}),),
         near=(config("gw01", "ssh", {"banner": "SSH-2.0-ab"}),),
         target="deckies.gw01.service_config.ssh.banner"),
    Case(Code.IMAGE_INVALID, "a-path-not-a-reference",
         fail=(set_decky("ws01", images={"smb": "../containers/abc"}),),
         near=(set_decky("ws01", images={"smb": "registry.local:5000/team/samba:4.17"}),),
         target="deckies.ws01.images.smb"),
    # exposure and host ports
    Case(Code.EXPOSE_NOT_IN_DMZ, "office-homed",
         fail=(set_decky("ws01", expose=True),),
         near=(set_decky("gw01", expose=True),),  # a DMZ-homed bridge may expose
         target="deckies.ws01.expose"),
    Case(Code.EXPOSE_NOT_IN_DMZ, "bridge-homed-on-office",
         fail=(set_decky("gw01", expose=True, lans={"office": None, "dmz": "172.20.0.10"}),),
         near=(set_decky("gw01", expose=True, lans={"dmz": "172.20.0.10", "office": None}),),
         target="deckies.gw01.expose"),
    Case(Code.PORT_COLLISION, "two-exposed-deckies",
         fail=(add_decky("www02", {"dmz": None}, services=["https"], expose=True),),
         near=(add_decky("www02", {"dmz": None}, services=["https"], expose=False),),
         target="deckies.www02.expose"),
    Case(Code.PORT_COLLISION, "against-a-neighbour",
         fail=(), near=(),
         fail_context=ctx(Neighbour("other", exposed_ports=((443, "tcp"),))),
         near_context=ctx(Neighbour("other", exposed_ports=((443, "udp"),))),
         target="deckies.www01.expose"),
    # warnings
    Case(Code.LAN_EMPTY, "no-decky",
         fail=(add_lan("lab", "172.20.2.0/24"),),
         near=(add_lan("lab", "172.20.2.0/24"), add_decky("lab01", {"lab": None, "office": None})),
         target="lans.lab", severity="warning"),
]

CASE_CODES = {case.code for case in CASES}


def run(edits: tuple[Edit, ...], context: ValidationContext = EMPTY_CONTEXT) -> list[Issue]:
    _, issues = validate_data(make(*edits), context)
    return issues


def test_base_document_is_clean() -> None:
    doc, issues = validate_data(make())
    assert doc is not None
    assert issues == []


@pytest.mark.parametrize("code", list(Code), ids=str)
def test_every_code_has_a_case(code: Code) -> None:
    assert code in CASE_CODES, f"no failing/near-miss example for {code}"


def test_cases_only_use_known_codes() -> None:
    assert set(Code) == CASE_CODES


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_failing_example_yields_exactly_its_code(case: Case) -> None:
    issues = run(case.fail, case.fail_context)
    assert [issue.code for issue in issues] == [case.code.value], issues
    (issue,) = issues
    assert issue.severity == case.severity
    assert issue.target == case.target
    assert issue.message.strip()
    assert "\n" not in issue.message
    assert issue.to_dict() == {
        "severity": case.severity,
        "code": case.code.value,
        "message": issue.message,
        "target": case.target,
    }


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_near_miss_passes(case: Case) -> None:
    issues = run(case.near, case.near_context)
    assert case.code.value not in {issue.code for issue in issues}, issues
    assert not has_errors(issues), issues


# --- beyond one code per example -----------------------------------------------------------


def test_many_problems_are_all_reported_in_one_call() -> None:
    doc = make(
        set_top(name="Acme!"),  # NAME_INVALID
        set_lan("office", dmz=True),  # DMZ_MULTIPLE
        add_lan("bad", "10.0.0.1/24"),  # SUBNET_MALFORMED
        add_lan("tiny", "10.9.0.0/30"),  # SUBNET_TOO_SMALL
        add_lan("big", "172.20.0.0/16"),  # SUBNET_OVERLAP
        add_lan("lab", "172.21.0.0/24"),  # LAN_UNREACHABLE (lab01 lives only there)
        add_lan("spare", "172.22.0.0/24"),  # LAN_EMPTY
        pin("ws01", "office", "172.20.1.999"),  # IP_MALFORMED
        pin("ws01", "nowhere", None),  # IP_UNKNOWN_LAN
        set_decky("ws01", services=["smb", "gopher"], archetype="mainframe",
                  service_config={"smb": {"workgroup": 1}, "ssh": {}}),
        add_decky("lab01", {"lab": "172.21.0.255"}, services=["ssh"], expose=True),
        add_decky("lab02", {"lab": "172.21.0.7"}),
        add_decky("lab03", {"lab": "172.21.0.7"}),  # IP_COLLISION
        add_decky("lab02", {"big": None, "tiny": None, "bad": None}),  # DECKY_NAME_DUP
        add_decky("lost", {}),  # DECKY_ORPHAN
        add_decky("out", {"dmz": "10.1.1.1"}),  # IP_OUT_OF_SUBNET
        add_lan("office", "172.23.0.0/24"),  # LAN_NAME_DUP
        add_decky("www02", {"dmz": None}, services=["https"], expose=True),  # PORT_COLLISION
    )
    doc_model, issues = validate_data(doc)
    assert doc_model is not None
    codes = {issue.code for issue in issues}
    expected = {
        Code.NAME_INVALID, Code.DMZ_MULTIPLE, Code.SUBNET_MALFORMED, Code.SUBNET_TOO_SMALL,
        Code.SUBNET_OVERLAP, Code.LAN_UNREACHABLE, Code.LAN_EMPTY, Code.IP_MALFORMED,
        Code.IP_UNKNOWN_LAN, Code.UNKNOWN_SERVICE, Code.UNKNOWN_ARCHETYPE,
        Code.SERVICE_CFG_INVALID, Code.SERVICE_CFG_UNDECLARED, Code.IP_RESERVED,
        Code.EXPOSE_NOT_IN_DMZ, Code.IP_COLLISION, Code.DECKY_NAME_DUP, Code.DECKY_ORPHAN,
        Code.IP_OUT_OF_SUBNET, Code.LAN_NAME_DUP, Code.PORT_COLLISION,
    }
    assert {code.value for code in expected} <= codes, sorted(codes)
    assert len(issues) == len(set(issues)), "an issue is reported twice"


def test_many_schema_problems_are_all_reported_in_one_call() -> None:
    doc = make(
        raw(lambda d: d["deckies"][0].update(foo=1)),
        set_decky("ws01", expose="yes"),
        raw(lambda d: d["lans"][1].pop("subnet")),
    )
    doc_model, issues = validate_data(doc)
    assert doc_model is None
    assert {issue.code for issue in issues} == {"SCHEMA"}
    assert {issue.target for issue in issues} == {
        "deckies[0].foo", "deckies[1].expose", "lans[1].subnet",
    }
    unknown = next(issue for issue in issues if issue.target == "deckies[0].foo")
    assert "foo" in unknown.message


def test_schema_errors_still_report_an_invalid_topology_name() -> None:
    doc = make(set_top(name="Bad Name"), raw(lambda d: d["deckies"][0].update(foo=1)))
    _, issues = validate_data(doc)
    assert {(issue.code, issue.target) for issue in issues} == {
        ("SCHEMA", "deckies[0].foo"), ("NAME_INVALID", "name"),
    }


def test_name_invalid_names_the_field_and_the_rule() -> None:
    _, issues = validate_data(make(set_decky("www01", name="Www 01")))
    (issue,) = issues
    assert issue.code == "NAME_INVALID"
    assert issue.target == "deckies[2].name"
    assert "Www 01" in issue.message


def test_empty_lan_is_only_a_warning() -> None:
    doc_model, issues = validate_data(make(add_lan("lab", "172.20.2.0/24")))
    assert doc_model is not None
    assert not has_errors(issues)
    assert [(i.severity, i.code, i.target) for i in issues] == [
        ("warning", "LAN_EMPTY", "lans.lab"),
    ]


def test_ip_reserved_covers_network_gateway_and_broadcast() -> None:
    reserved = {"172.20.1.0", "172.20.1.1", "172.20.1.255"}
    for ip in reserved:
        _, issues = validate_data(make(pin("ws01", "office", ip)))
        assert [issue.code for issue in issues] == ["IP_RESERVED"], ip


def test_subnet_overlap_message_names_the_neighbour() -> None:
    context = ctx(Neighbour("other-maze", subnets=("172.20.0.0/16",)))
    _, issues = validate_data(make(), context)
    assert {issue.code for issue in issues} == {"SUBNET_OVERLAP"}
    assert {issue.target for issue in issues} == {"lans.dmz.subnet", "lans.office.subnet"}
    assert all("other-maze" in issue.message for issue in issues)


def test_port_collision_message_names_the_neighbour() -> None:
    context = ctx(Neighbour("other-maze", exposed_ports=((443, "tcp"),)))
    _, issues = validate_data(make(), context)
    (issue,) = issues
    assert "other-maze" in issue.message
    assert "443" in issue.message


def test_validation_is_pure() -> None:
    doc = make()
    before = copy.deepcopy(doc)
    context = ctx(Neighbour("other", subnets=("172.20.1.0/24",)))
    first = validate_data(doc, context)[1]
    second = validate_data(doc, context)[1]
    assert first == second
    assert doc == before


def test_duplicate_names_do_not_hide_collisions() -> None:
    doc = make(
        pin("www01", "dmz", "172.20.0.20"),
        add_decky("www01", {"dmz": "172.20.0.20"}, services=["https"], expose=True),
    )
    _, issues = validate_data(doc)
    assert {issue.code for issue in issues} == {
        "DECKY_NAME_DUP", "IP_COLLISION", "PORT_COLLISION",
    }
    by_code = {issue.code: issue for issue in issues}
    assert by_code["DECKY_NAME_DUP"].target == "deckies[3].name"
    # the holder is named, with its position since both deckies share the name
    assert by_code["IP_COLLISION"].message == (
        "172.20.0.20 on dmz is already held by www01 (deckies[2])"
    )
    assert by_code["IP_COLLISION"].target == "deckies.www01.lans.dmz"
    assert by_code["PORT_COLLISION"].message == (
        "host port 443/tcp of https is already published by decky www01 (deckies[2])"
    )


def test_three_deckies_with_one_name_report_every_collision() -> None:
    doc = make(
        pin("ws01", "office", "172.20.1.20"),
        add_decky("ws01", {"office": "172.20.1.20"}),
        add_decky("ws01", {"office": "172.20.1.20"}),
    )
    _, issues = validate_data(doc)
    codes = sorted(issue.code for issue in issues)
    assert codes == ["DECKY_NAME_DUP", "DECKY_NAME_DUP", "IP_COLLISION", "IP_COLLISION"]
    assert all("(deckies[1])" in issue.message for issue in issues
               if issue.code == "IP_COLLISION")


def test_duplicate_names_without_collisions_report_only_the_duplicate() -> None:
    doc = make(add_decky("ws01", {"office": "172.20.1.21"}, services=["ssh"]))
    _, issues = validate_data(doc)
    assert [issue.code for issue in issues] == ["DECKY_NAME_DUP"]


def test_distinct_names_keep_the_plain_holder_message() -> None:
    _, issues = validate_data(make(add_decky("ws02", {"office": "172.20.1.20"})))
    (issue,) = issues
    assert issue.message == "172.20.1.20 on office is already held by ws01"


def test_the_same_decky_object_twice_is_two_holders() -> None:
    from decnet_lib.topology.document import TopologyDoc
    from decnet_lib.validation.validate import validate_document

    doc = TopologyDoc.model_validate(make())
    doc.deckies.append(doc.deckies[2])  # www01 again: same object, same IP, same port
    doc.deckies[2].lans["dmz"] = "172.20.0.30"
    codes = sorted(issue.code for issue in validate_document(doc))
    assert codes == ["DECKY_NAME_DUP", "IP_COLLISION", "PORT_COLLISION"]


def test_books_without_positions_tell_deckies_apart_by_identity() -> None:
    from ipaddress import IPv4Network

    from decnet_lib.topology.document import DeckyDoc
    from decnet_lib.validation.decky_rules import AddressBook, PortBook

    book = AddressBook({"dmz": IPv4Network("172.20.0.0/24")}, {"dmz"})
    first = DeckyDoc(name="a", lans={"dmz": "172.20.0.9"}, services=["http"], expose=True)
    twin = DeckyDoc(name="a", lans={"dmz": "172.20.0.9"}, services=["http"], expose=True)
    assert book.check(first) == []
    assert book.check(first) == []  # the same decky again holds its own address
    (issue,) = book.check(twin)
    assert issue.message == "172.20.0.9 on dmz is already held by a"
    ports = PortBook(EMPTY_CONTEXT)
    assert ports.check(first, ["http"], {"dmz"}) == []
    assert [i.code for i in ports.check(twin, ["http"], {"dmz"})] == ["PORT_COLLISION"]


# --- free-form meta: JSON data, bounded depth -------------------------------------------------


def test_meta_nesting_limit_is_exact() -> None:
    from decnet_lib.validation.free_form import MAX_FREE_FORM_DEPTH

    _, issues = validate_data(make(set_decky("ws01", meta=nested(MAX_FREE_FORM_DEPTH))))
    assert issues == []
    _, issues = validate_data(make(set_decky("ws01", meta=nested(MAX_FREE_FORM_DEPTH + 1))))
    assert [(i.code, i.target) for i in issues] == [("SCHEMA", "deckies[1].meta")]
    assert f"deeper than {MAX_FREE_FORM_DEPTH} levels" in issues[0].message


@pytest.mark.parametrize("levels", [1000, 100_000])
def test_very_deep_meta_is_one_schema_issue_not_a_crash(levels: int) -> None:
    _, issues = validate_data(make(set_lan("office", meta=nested(levels))))
    assert [(i.code, i.target) for i in issues] == [("SCHEMA", "lans[1].meta")]


def test_recursive_meta_built_in_python_is_a_schema_issue() -> None:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    _, issues = validate_data(make(set_decky("gw01", meta=loop)))
    assert [(i.code, i.target) for i in issues] == [("SCHEMA", "deckies[0].meta")]


def test_shared_meta_subtrees_are_checked_quickly() -> None:
    import time

    value: Any = ["leaf"]
    for _ in range(30):
        value = [value, value]  # 2**30 leaves once expanded, 31 distinct lists
    start = time.perf_counter()
    _, issues = validate_data(make(set_decky("gw01", meta={"tree": value})))
    assert issues == []
    assert time.perf_counter() - start < 2


@pytest.mark.parametrize(
    ("value", "target", "words"),
    [
        ({"when": datetime.date(2024, 1, 1)}, "deckies[1].meta.when", "YAML timestamp"),
        ({"at": [datetime.datetime(2024, 1, 1, 12, 0)]}, "deckies[1].meta.at[0]", "timestamp"),
        ({"blob": b"hello"}, "deckies[1].meta.blob", "binary data"),
        ({"tags": {"a", "b"}}, "deckies[1].meta.tags", "type set"),
        ({"pairs": [("a", 1)]}, "deckies[1].meta.pairs[0]", "type tuple"),
        ({"ports": {80: "http"}}, "deckies[1].meta.ports", "key 80 is not a string"),
    ],
    ids=["date", "datetime", "binary", "set", "tuple", "int-key"],
)
def test_meta_must_be_json_data(value: dict[str, Any], target: str, words: str) -> None:
    _, issues = validate_data(make(set_decky("ws01", meta=value)))
    assert [(i.code, i.target) for i in issues] == [("SCHEMA", target)]
    assert words in issues[0].message


def test_yaml_meta_values_that_are_not_json_are_schema_issues() -> None:
    from decnet_lib.topology.loader import decode_document

    raw = b"""\
name: acme
lans: [{name: dmz, subnet: 172.20.0.0/24, dmz: true, meta: {since: 2024-01-01}}]
deckies: [{name: d, lans: {dmz: null}, meta: {s: !!set {a}}}]
"""
    _, issues = validate_data(decode_document(raw))
    assert [(i.code, i.target) for i in issues] == [
        ("SCHEMA", "lans[0].meta.since"), ("SCHEMA", "deckies[0].meta.s"),
    ]
