"""`decky.<name>.state` events: states derived from an apply report, published per decky."""

from __future__ import annotations

from helpers import sample_resolved

from decnet_lib.deploy.naming import base_container_name, service_container_name
from decnet_lib.events import set_publisher
from decnet_lib.master.decky_events import decky_states, publish_decky_states


def test_states_from_errors_and_crashes() -> None:
    topology = sample_resolved()
    details = {
        "errors": [{"name": service_container_name(topology.id, "web01", "http")}],
        "crashed": [{"name": base_container_name(topology.id, "db01")}],
    }
    states = decky_states(topology, details)
    assert states == {"gw01": "running", "web01": "failed", "files01": "running",
                      "db01": "crashed"}
    assert set(decky_states(topology, {}).values()) == {"running"}


def test_each_decky_is_published_on_its_topic() -> None:
    topology = sample_resolved()
    seen: list[tuple[str, dict]] = []
    set_publisher(lambda topic, payload: seen.append((topic, payload)))
    try:
        publish_decky_states(topology, {"gw01": "running", "db01": "removed"})
    finally:
        set_publisher(None)
    assert [topic for topic, _ in seen] == ["decky.gw01.state", "decky.db01.state"]
    assert seen[1][1] == {"topology_id": topology.id, "topology": "acme", "decky": "db01",
                          "state": "removed"}
