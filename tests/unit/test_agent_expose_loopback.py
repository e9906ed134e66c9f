"""The agent refuses to publish a decky's ports on loopback (issue 13.3)."""

from __future__ import annotations

import pytest

from agent.bodies import ApplyBody, checked_topology
from agent.errors import AgentProblem
from decnet_lib.topology.hashing import canonical_hash
from decnet_lib.topology.loader import decode_document
from decnet_lib.topology.resolve import resolve
from decnet_lib.validation.validate import validate_data


def body(address: str) -> ApplyBody:
    doc, _ = validate_data(decode_document(b"""
name: pub
lans: [{name: dmz, subnet: 10.77.0.0/24, dmz: true}]
deckies: [{name: web, services: [http], lans: {dmz: null}, expose: true}]
"""))
    assert doc is not None
    topology = resolve(doc).model_dump(mode="json")
    topology["deckies"][0]["expose"] = {"address": address}  # as a sender could craft it
    return ApplyBody(topology=topology, hash=canonical_hash(topology))


@pytest.mark.parametrize("address", ["127.0.0.1", "127.8.9.10", "::1"])
def test_a_loopback_bind_address_is_refused(address: str) -> None:
    with pytest.raises(AgentProblem) as caught:
        checked_topology(body(address))
    assert caught.value.status == 422 and "loopback" in str(caught.value)


def test_a_public_bind_address_is_accepted() -> None:
    resolved, _ = checked_topology(body("203.0.113.5"))
    assert resolved.deckies[0].expose == {"address": "203.0.113.5"}
