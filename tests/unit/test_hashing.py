"""The canonical hash: deployment-relevant fields change it, nothing else does."""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from decnet_lib.issues import has_errors
from decnet_lib.topology.hashing import canonical_hash, canonical_view
from decnet_lib.topology.resolve import resolve
from decnet_lib.topology.resolved import ResolvedTopology
from decnet_lib.validation.validate import validate_data

Doc = dict[str, Any]

# every address pinned, so that reordering the document cannot change what is allocated
BASE: Doc = {
    "name": "acme",
    "lans": [
        {"name": "dmz", "subnet": "172.20.0.0/24", "dmz": True},
        {"name": "office", "subnet": "172.20.1.0/24"},
        {"name": "lab", "subnet": "172.20.2.0/24"},
    ],
    "deckies": [
        {
            "name": "gw01",
            "archetype": "linux-server",
            "services": ["http", "ftp"],
            "lans": {"dmz": "172.20.0.10", "office": "172.20.1.10"},
            "forwards_l3": True,
            "service_config": {
                "ssh": {"banner": "SSH-2.0-OpenSSH_9.2p1 Debian-2"},
                "http": {"server_header": "nginx", "page_title": "Hi"},
            },
        },
        {"name": "ws01", "services": ["smb", "rdp"], "lans": {"office": "172.20.1.20"}},
        {"name": "www01", "services": ["https"], "lans": {"dmz": "172.20.0.20"},
         "expose": True, "images": {"https": "nginx:1.25"}},
        {"name": "lab01", "services": ["telnet"],
         "lans": {"lab": "172.20.2.5", "office": "172.20.1.30"}},
    ],
}


def make(*edits: Callable[[Doc], Any]) -> Doc:
    data = copy.deepcopy(BASE)
    for edit in edits:
        edit(data)
    return data


def decky(data: Doc, name: str) -> Doc:
    return next(d for d in data["deckies"] if d["name"] == name)


def lan(data: Doc, name: str) -> Doc:
    return next(item for item in data["lans"] if item["name"] == name)


def resolved(data: Doc, topology_id: str | None = None) -> ResolvedTopology:
    doc, issues = validate_data(data)
    assert doc is not None and not has_errors(issues), issues
    return resolve(doc, topology_id)


def doc_hash(data: Doc) -> str:
    return resolved(data).hash


BASE_HASH = doc_hash(BASE)


def test_hash_is_sha256_hex_of_the_resolved_form() -> None:
    topo = resolved(BASE)
    assert len(topo.hash) == 64 and int(topo.hash, 16) >= 0
    assert topo.hash == canonical_hash(topo.model_dump()) == BASE_HASH


def test_canonical_view_is_an_allow_list() -> None:
    view = canonical_view(resolved(BASE).model_dump())
    assert set(view) == {"name", "lans", "deckies"}
    assert set(view["lans"][0]) == {"name", "subnet", "gateway", "dmz", "driver", "parent"}
    assert set(view["deckies"][0]) == {
        "name", "services", "service_config", "forwards_l3", "expose", "images", "lans",
    }


def test_a_lan_gateway_changes_the_hash() -> None:
    dumped = resolved(BASE).model_dump()
    before = canonical_hash(dumped)
    dumped["lans"][0]["gateway"] = "172.20.0.5"
    assert canonical_hash(dumped) != before


# --- what must not change the hash ----------------------------------------------------------


def test_status_and_ids_do_not_change_the_hash() -> None:
    first, second = resolved(BASE, "a" * 32), resolved(BASE, "b" * 32)
    assert first.hash == second.hash
    dumped = first.model_dump()
    dumped["status"] = "active"
    dumped["hash"] = "stale"
    for item in dumped["lans"] + dumped["deckies"]:
        item["id"] = "0" * 32
    assert canonical_hash(dumped) == first.hash


def test_version_timestamps_and_ui_fields_do_not_change_the_hash() -> None:
    dumped = resolved(BASE).model_dump()
    dumped.update(version=7, spec_version=3, created_at="2024-01-01T00:00:00Z",
                  updated_at=1700000000.0, agent="https://agent:8443", last_error=None)
    for item in dumped["lans"] + dumped["deckies"]:
        item.update(x=120, y=-40, position={"x": 1, "y": 2}, updated_at="now", version=2,
                    collapsed=True, gateway=item.get("gateway"))
    assert canonical_hash(dumped) == BASE_HASH


def test_meta_does_not_change_the_hash() -> None:
    def add_meta(data: Doc) -> None:
        decky(data, "gw01")["meta"] = {"owner": "blue team", "x": 3}
        lan(data, "office")["meta"] = {"colour": "#ff0000"}

    assert doc_hash(make(add_meta)) == BASE_HASH


@pytest.mark.parametrize(
    ("archetype", "services"),
    [
        (None, ["ssh", "http", "ftp"]),  # exactly what linux-server + [http, ftp] expands to
        (None, ["http", "ftp", "ssh"]),
        ("linux-server", ["ssh", "http", "ftp"]),  # ssh listed twice, deduplicated
        ("deaddeck", ["ftp", "ssh", "http"]),  # an archetype that adds nothing
    ],
)
def test_archetype_name_does_not_change_the_hash(
    archetype: str | None, services: list[str]
) -> None:
    def edit(data: Doc) -> None:
        decky(data, "gw01").update(archetype=archetype, services=services)

    assert doc_hash(make(edit)) == BASE_HASH


def test_archetype_with_the_same_effective_services_keeps_the_hash() -> None:
    def explicit(data: Doc) -> None:
        decky(data, "ws01").update(services=["smb", "rdp"], archetype="windows-workstation")

    assert doc_hash(make(explicit)) == BASE_HASH


def test_services_order_does_not_change_the_hash() -> None:
    def reorder(data: Doc) -> None:
        decky(data, "gw01")["services"] = ["ftp", "http"]
        decky(data, "ws01")["services"] = ["rdp", "smb"]

    assert doc_hash(make(reorder)) == BASE_HASH


def test_an_explicit_default_image_does_not_change_the_hash() -> None:
    def pin_default(data: Doc) -> None:
        decky(data, "ws01")["images"] = {"smb": "decnet/svc-smb:latest"}

    assert doc_hash(make(pin_default)) == BASE_HASH


def test_key_order_of_configs_and_images_does_not_change_the_hash() -> None:
    def reorder(data: Doc) -> None:
        gw01 = decky(data, "gw01")
        gw01["service_config"] = {
            "http": {"page_title": "Hi", "server_header": "nginx"},
            "ssh": {"banner": "SSH-2.0-OpenSSH_9.2p1 Debian-2"},
        }

    assert doc_hash(make(reorder)) == BASE_HASH


@settings(max_examples=60, deadline=None)
@given(st.randoms(use_true_random=False))
def test_shuffling_document_order_never_changes_the_hash(rng: random.Random) -> None:
    data = make()
    rng.shuffle(data["deckies"])
    rng.shuffle(data["lans"])
    for item in data["deckies"]:
        rng.shuffle(item["services"])
        config = list(item.get("service_config", {}).items())
        rng.shuffle(config)
        item["service_config"] = dict(config)
    assert doc_hash(data) == BASE_HASH


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_shuffling_resolved_order_never_changes_the_hash(data: st.DataObject) -> None:
    dumped = resolved(BASE).model_dump()
    dumped["deckies"] = data.draw(st.permutations(dumped["deckies"]))
    dumped["lans"] = data.draw(st.permutations(dumped["lans"]))
    for item in dumped["deckies"]:
        item["services"] = data.draw(st.permutations(item["services"]))
        item["images"] = dict(data.draw(st.permutations(list(item["images"].items()))))
    assert canonical_hash(dumped) == BASE_HASH


# --- what must change the hash ----------------------------------------------------------------


def _set(path: Callable[[Doc], Doc], **values: Any) -> Callable[[Doc], None]:
    return lambda data: path(data).update(values)


CHANGES: dict[str, Callable[[Doc], None]] = {
    "topology-name": lambda d: d.update(name="acme-2"),
    "ip": lambda d: decky(d, "gw01")["lans"].update(dmz="172.20.0.11"),
    "ip-on-second-lan": lambda d: decky(d, "lab01")["lans"].update(office="172.20.1.31"),
    "service-added": _set(lambda d: decky(d, "ws01"), services=["smb", "rdp", "vnc"]),
    "service-removed": _set(lambda d: decky(d, "ws01"), services=["smb"]),
    "archetype-adds-a-service": _set(lambda d: decky(d, "ws01"), archetype="windows-server"),
    "service-config-value": lambda d: decky(d, "gw01")["service_config"]["ssh"].update(
        banner="SSH-2.0-dropbear"
    ),
    "service-config-added": _set(lambda d: decky(d, "ws01"),
                                 service_config={"smb": {"workgroup": "CORP"}}),
    "expose": _set(lambda d: decky(d, "www01"), expose=False),
    "forwards-l3": _set(lambda d: decky(d, "gw01"), forwards_l3=False),
    "image-override": _set(lambda d: decky(d, "www01"), images={"https": "nginx:1.26"}),
    "image-override-added": _set(lambda d: decky(d, "ws01"), images={"rdp": "rdpy:latest"}),
    "subnet": _set(lambda d: lan(d, "lab"), subnet="172.20.2.0/25"),
    "driver": _set(lambda d: lan(d, "lab"), driver="macvlan", parent="eth1"),
    "decky-renamed": _set(lambda d: decky(d, "ws01"), name="ws02"),
    "lan-renamed": lambda d: (
        lan(d, "lab").update(name="lab2"),
        decky(d, "lab01").update(lans={"lab2": "172.20.2.5", "office": "172.20.1.30"}),
    ),
    "decky-added": lambda d: d["deckies"].append(
        {"name": "pc01", "services": ["vnc"], "lans": {"office": "172.20.1.40"}}
    ),
    "decky-joins-a-lan": lambda d: decky(d, "ws01")["lans"].update(lab="172.20.2.9"),
    # the home LAN is the first one: swapping a bridge's LAN order moves its home
    "home-lan-order": _set(lambda d: decky(d, "lab01"),
                           lans={"office": "172.20.1.30", "lab": "172.20.2.5"}),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_deployment_relevant_change_changes_the_hash(change: str) -> None:
    assert doc_hash(make(CHANGES[change])) != BASE_HASH


def test_home_lan_order_keeps_the_same_addresses() -> None:
    before = resolved(BASE).decky("lab01")
    after = resolved(make(CHANGES["home-lan-order"])).decky("lab01")
    assert before is not None and after is not None
    assert sorted(before.lans.items()) == sorted(after.lans.items())
    assert (before.home, after.home) == ("lab", "office")


def test_moving_the_dmz_changes_the_hash() -> None:
    def unexposed(data: Doc) -> None:
        decky(data, "www01")["expose"] = False  # so that the DMZ can move

    def move_dmz(data: Doc) -> None:
        lan(data, "dmz")["dmz"] = False
        lan(data, "lab")["dmz"] = True

    assert doc_hash(make(unexposed, move_dmz)) != doc_hash(make(unexposed))


def test_dmz_flag_changes_the_hash_of_a_resolved_form() -> None:
    dumped = resolved(BASE).model_dump()
    dumped["lans"][1]["dmz"] = True
    assert canonical_hash(dumped) != BASE_HASH


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(CHANGES)), st.randoms(use_true_random=False))
def test_a_change_is_seen_whatever_the_order(change: str, rng: random.Random) -> None:
    data = make(CHANGES[change])
    rng.shuffle(data["deckies"])
    rng.shuffle(data["lans"])
    assert doc_hash(data) != BASE_HASH


def test_a_gateway_held_by_a_decky_or_outside_the_subnet_is_refused() -> None:
    from decnet_lib.mutations.invariants import invariant_errors

    topology = resolved(BASE)
    assert invariant_errors(topology) == []
    dmz = next(lan for lan in topology.lans if lan.dmz)
    holder = next(d for d in topology.deckies if dmz.name in d.lans)
    cases = ((holder.lans[dmz.name], "IP_COLLISION"), ("10.99.0.1", "IP_OUT_OF_SUBNET"),
             ("nonsense", "IP_MALFORMED"))
    for gateway, code in cases:
        dmz.gateway = gateway
        issues = invariant_errors(topology)
        assert [(i.code, i.target) for i in issues] == [(code, f"lans.{dmz.name}.gateway")]
