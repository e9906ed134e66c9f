"""The validation context from the database: live neighbours, their subnets and ports."""

from __future__ import annotations

from helpers import sample_resolved
from sqlalchemy import Engine, update

from decnet_lib.db import Topology, create_topology, neighbours, session_scope, used_subnets
from decnet_lib.issues import Code
from decnet_lib.validation.context import Neighbour, ValidationContext
from decnet_lib.validation.validate import validate_data

WEB_PORTS = ((80, "tcp"), (443, "tcp"))  # web01 in the sample exposes http and https


def _store(engine: Engine, name: str, prefix: str, status: str = "pending",
           agent: str | None = None) -> str:
    with session_scope(engine) as session:
        row = create_topology(session, sample_resolved(name, prefix), agent=agent)
        session.flush()
        session.execute(update(Topology).where(Topology.id == row.id).values(status=status))
        return row.id


def _subnets(prefix: str) -> tuple[str, ...]:
    return (f"{prefix}.0.0/24", f"{prefix}.1.0/24", f"{prefix}.2.0/28")


def test_neighbours_are_every_topology_not_torn_down(engine: Engine) -> None:
    _store(engine, "alpha", "172.20", "active")
    _store(engine, "beta", "172.21", "torn_down")
    gamma = _store(engine, "gamma", "172.22", "failed")
    with session_scope(engine) as session:
        context = neighbours(session)
        assert context == ValidationContext(neighbours=(
            Neighbour("alpha", _subnets("172.20"), WEB_PORTS),
            Neighbour("gamma", _subnets("172.22"), WEB_PORTS),
        ))
        assert [n.name for n in neighbours(session, exclude_id=gamma).neighbours] == ["alpha"]
        assert used_subnets(session) == [*_subnets("172.20"), *_subnets("172.22")]


def test_neighbours_on_an_agent_include_unplaced_ones(engine: Engine) -> None:
    _store(engine, "alpha", "172.20", agent="https://a:8443")
    _store(engine, "beta", "172.21", agent="https://b:8443")
    _store(engine, "gamma", "172.22")
    with session_scope(engine) as session:
        names = [n.name for n in neighbours(session, agent="https://a:8443").neighbours]
    assert names == ["alpha", "gamma"]


def test_nothing_stored_means_no_neighbours(engine: Engine) -> None:
    with session_scope(engine) as session:
        assert neighbours(session) == ValidationContext()
        assert used_subnets(session) == []


def test_the_context_feeds_validation(engine: Engine) -> None:
    _store(engine, "alpha", "172.20", "active")
    _store(engine, "old", "172.30", "torn_down")
    document = {
        "name": "beta",
        "lans": [{"name": "dmz", "subnet": "172.20.0.0/25", "dmz": True},  # alpha's DMZ
                 {"name": "free", "subnet": "172.30.0.0/24"}],  # only a torn-down one's
        "deckies": [{"name": "web", "services": ["http"], "lans": {"dmz": None, "free": None},
                     "expose": True}],  # port 80 is alpha's
    }
    with session_scope(engine) as session:
        _, issues = validate_data(document, neighbours(session))
    assert sorted(issue.code for issue in issues) == [Code.PORT_COLLISION, Code.SUBNET_OVERLAP]
