"""The master tells the truth about what an agent holds (issue 14.1), against a real agent
(mutual TLS) on the real Docker Engine:

- deploying a second topology to an agent tears the first down there as a predecessor:
  the first is recorded torn_down, with the reason, not left `active` with no containers;
- an out-of-band teardown on the agent is drift: the next drift check records the live
  topology degraded (with the reason), and a re-deploy followed by a check heals it.
"""

from __future__ import annotations

import ipaddress
import ssl
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select

from decnet_lib.db import TopologyEvent, create_topology, new_session, require_topology
from decnet_lib.images.build import build_images
from decnet_lib.master import lifecycle
from decnet_lib.master.drift import check_drift
from decnet_lib.topology.loader import decode_document
from decnet_lib.topology.resolve import resolve
from decnet_lib.topology.resolved import ResolvedTopology
from decnet_lib.validation.validate import validate_data

pytest_plugins = ["docker_support"]


def small(name: str, subnet: ipaddress.IPv4Network) -> str:
    return f"""
name: {name}
lans:
  - {{name: dmz, subnet: {subnet}, dmz: true}}
deckies:
  - {{name: web, services: [http], lans: {{dmz: null}}}}
"""


def store(engine: Engine, text: str, docker_env) -> ResolvedTopology:
    doc, issues = validate_data(decode_document(text.encode()))
    assert doc is not None, issues
    resolved = resolve(doc)
    docker_env.topology_ids.append(resolved.id)
    with new_session(engine) as session:
        create_topology(session, resolved)
        session.commit()
    return resolved


def status(engine: Engine, name: str) -> str:
    with new_session(engine) as session:
        return require_topology(session, name).status


def reasons(engine: Engine, topology_id: str, to_status: str) -> list[str]:
    with new_session(engine) as session:
        return list(session.scalars(select(TopologyEvent.reason).where(
            TopologyEvent.topology_id == topology_id, TopologyEvent.to_status == to_status)))


@pytest.mark.slow
def test_the_master_learns_what_the_agent_really_holds(
    docker_env, agent_url: str, master: Engine, tmp_path: Path
) -> None:
    build_images(docker_env.client)
    first_net, second_net = docker_env.subnets(2)
    first = store(master, small("first", first_net), docker_env)
    second = store(master, small("second", second_net), docker_env)

    assert lifecycle.deploy(master, "first", agent=agent_url).status == "active"
    assert check_drift(master)[0].after == "active"  # it matches: nothing to record

    # the second deploy tears the first down on the agent: the record says so
    assert lifecycle.deploy(master, "second", agent=agent_url).status == "active"
    assert status(master, "first") == "torn_down"
    (why,) = reasons(master, first.id, "torn_down")
    assert "to deploy second" in why and agent_url in why
    assert docker_env.labelled_count(first.id) == (0, 0)

    # torn down behind the master's back: drift, recorded with the reason
    pki = tmp_path / "pki"  # where the agent_url fixture made the CA and certificates
    context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    context.load_cert_chain(pki / "master.crt", pki / "master.key")
    with httpx.Client(base_url=agent_url, verify=context, timeout=60) as http:
        assert http.post("/topology/teardown", json={}).status_code == 200
    (drift,) = check_drift(master)
    assert (drift.name, drift.before, drift.after) == ("second", "active", "degraded")
    assert "holds no topology" in drift.reason
    assert reasons(master, second.id, "degraded") == [drift.reason]

    # re-deployed: the next check finds it matching and it is active again
    assert lifecycle.deploy(master, "second", agent=agent_url).status == "active"
    (healed,) = check_drift(master)
    assert healed.after == "active"
    lifecycle.teardown(master, "second")

