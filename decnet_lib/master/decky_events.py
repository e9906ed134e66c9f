"""`decky.<name>.state` events after a deploy, a push or a teardown."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from decnet_lib.deploy.naming import base_container_name, service_container_name
from decnet_lib.events import decky_state_topic, publish
from decnet_lib.topology.resolved import ResolvedDecky, ResolvedTopology


def container_names(topology_id: str, decky: ResolvedDecky) -> set[str]:
    """The base and service containers of one decky."""
    return {base_container_name(topology_id, decky.name)} | {
        service_container_name(topology_id, decky.name, service) for service in decky.services
    }


def decky_states(topology: ResolvedTopology, details: Mapping[str, Any]) -> dict[str, str]:
    """Each decky's state from an apply report: failed, crashed or running."""
    failed = {item.get("name") for item in details.get("errors", [])}
    crashed = {item.get("name") for item in details.get("crashed", [])}
    states = {}
    for decky in topology.deckies:
        names = container_names(topology.id, decky)
        states[decky.name] = ("failed" if names & failed
                              else "crashed" if names & crashed else "running")
    return states


def publish_decky_states(topology: ResolvedTopology, states: Mapping[str, str]) -> None:
    """Publish `decky.<name>.state` for each decky (never raises)."""
    for name, state in states.items():
        publish(decky_state_topic(name), {
            "topology_id": topology.id, "topology": topology.name, "decky": name,
            "state": state,
        })
