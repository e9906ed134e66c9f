"""Does what Docker has match a resolved topology? One rule for the agent's report and
the master's drift check on this machine."""

from __future__ import annotations

from typing import Any

from decnet_lib.deploy.spec import desired_state
from decnet_lib.topology.resolved import ResolvedTopology


def reality_facts(resolved: ResolvedTopology | None, inventory: dict[str, Any]) -> dict[str, Any]:
    """Counts, what is missing, and `matches` (every expected network and container is
    there, nothing else, and all run) when the topology is known."""
    containers = inventory["containers"]
    facts: dict[str, Any] = {
        "all_running": all(c["state"] == "running" for c in containers),
        "running": sum(c["state"] == "running" for c in containers),
    }
    if resolved is None:
        return facts
    desired = desired_state(resolved)
    have = {c["name"] for c in containers}
    missing = sorted(set(desired.containers) - have)
    facts.update(
        expected_containers=len(desired.containers),
        expected_networks=len(desired.networks),
        missing=missing,
        matches=not missing and facts["all_running"]
        and have == set(desired.containers)
        and {n["name"] for n in inventory["networks"]} == set(desired.networks),
    )
    return facts


def mismatch_reason(facts: dict[str, Any]) -> str:
    """One line on how reality differs (facts from reality_facts, matches false)."""
    missing = facts.get("missing") or []
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        return f"{len(missing)} container(s) missing: {', '.join(missing[:3])}{more}"
    if not facts.get("all_running", True):
        return (f"only {facts.get('running', 0)} of {facts.get('expected_containers', 0)} "
                "containers run")
    return "Docker has networks or containers the topology does not"
