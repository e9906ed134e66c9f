"""The mutation queue on SQLite and MariaDB: enqueue, claims, leases, reconciler, guard."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from helpers import resolve_yaml, sample_resolved, store_live
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from decnet_lib.db import (
    Mutation,
    TopologyEvent,
    autocommit_connection,
    load_resolved,
    make_engine,
    new_session,
    require_topology,
)
from decnet_lib.errors import NotFound, Refused
from decnet_lib.events import set_publisher
from decnet_lib.mutations.payloads import BadPayload
from decnet_lib.mutations.queue import (
    claim_next_mutation,
    enqueue_mutation,
    finish_mutation,
    guard_statement,
    has_pending_topology_mutation,
    list_mutations,
    topologies_with_work,
)
from decnet_lib.mutations.reconciler import (
    reconcile_topologies,
    run_watch_loop,
    wait_for_mutation,
)
from decnet_lib.topology.resolved import ResolvedTopology

ADD_X = {"name": "x1", "lan": "office"}


@pytest.fixture
def live(engine: Engine) -> str:
    """A live (active) sample topology named acme; returns its id."""
    with new_session(engine) as session:
        row = store_live(session, sample_resolved())
        session.commit()
        return row.id


def enqueue(engine: Engine, op: str, payload: dict, name: str = "acme") -> int:
    with new_session(engine) as session:
        mutation = enqueue_mutation(session, name, op, payload)
        session.commit()
        return mutation.id


def state_of(engine: Engine, mutation_id: int) -> Mutation:
    with new_session(engine) as session:
        return session.get_one(Mutation, mutation_id)


def topology_of(engine: Engine, name: str = "acme") -> ResolvedTopology:
    with new_session(engine) as session:
        return load_resolved(session, require_topology(session, name))


def test_enqueue_refuses_bad_payload_and_unknown_op(engine: Engine, live: str) -> None:
    with new_session(engine) as session:
        with pytest.raises(BadPayload):
            enqueue_mutation(session, "acme", "explode", {})
        with pytest.raises(BadPayload):
            enqueue_mutation(session, "acme", "add_decky", {"name": "x"})
        with pytest.raises(BadPayload):
            enqueue_mutation(session, "acme", "add_decky", {**ADD_X, "color": "red"})
        with pytest.raises(NotFound):
            enqueue_mutation(session, "ghost", "remove_decky", {"decky": "a"})
        session.commit()
    with new_session(engine) as session:
        assert session.scalars(select(Mutation)).all() == []


def test_enqueue_refused_unless_active_or_degraded(engine: Engine) -> None:
    from decnet_lib.db import create_topology

    with new_session(engine) as session:
        create_topology(session, sample_resolved())
        session.commit()
        with pytest.raises(Refused, match="pending"):
            enqueue_mutation(session, "acme", "add_decky", ADD_X)


def test_claim_is_fifo_and_one_at_a_time(engine: Engine, live: str) -> None:
    first = enqueue(engine, "add_decky", ADD_X)
    second = enqueue(engine, "remove_decky", {"decky": "x1"})
    with autocommit_connection(engine) as a, autocommit_connection(engine) as b:
        claim = claim_next_mutation(a, live, "a")
        assert claim is not None and claim.mutation_id == first
        assert claim_next_mutation(b, live, "b") is None  # the head is held
        with new_session(engine) as c:
            assert finish_mutation(c, claim, "applied")
            c.commit()
        claim2 = claim_next_mutation(b, live, "b")
        assert claim2 is not None and claim2.mutation_id == second


def test_losing_claim_sees_nothing(engine: Engine, live: str) -> None:
    mutation_id = enqueue(engine, "add_decky", ADD_X)
    with autocommit_connection(engine) as claims:
        claim = claim_next_mutation(claims, live, "winner")
    assert claim is not None
    with autocommit_connection(engine) as claims:
        assert claim_next_mutation(claims, live, "loser") is None
    row = state_of(engine, mutation_id)
    assert row.state == "applying" and row.claimed_by == claim.token and row.attempts == 1


def test_claims_need_an_autocommit_connection(engine: Engine, live: str) -> None:
    enqueue(engine, "add_decky", ADD_X)
    with engine.connect() as connection, pytest.raises(ValueError, match="autocommit"):
        claim_next_mutation(connection, live, "tx")


def test_expired_lease_is_recovered_and_old_claim_cannot_finish(
    engine: Engine, live: str
) -> None:
    mutation_id = enqueue(engine, "add_decky", ADD_X)
    with autocommit_connection(engine) as claims:
        stale = claim_next_mutation(claims, live, "crashed", lease=0.1)
    assert stale is not None
    later = state_of(engine, mutation_id).lease_until + timedelta(seconds=1)
    with autocommit_connection(engine) as claims:
        assert has_pending_topology_mutation(claims, now=later)
        fresh = claim_next_mutation(claims, live, "rescuer", now=later)
    assert fresh is not None and fresh.recovered and fresh.mutation_id == mutation_id
    with new_session(engine) as session:
        assert not finish_mutation(session, stale, "applied")  # no longer ours
        session.rollback()
    row = state_of(engine, mutation_id)
    assert row.attempts == 2 and row.claimed_by == fresh.token


def test_reconcile_applies_in_order_and_pushes(engine: Engine, live: str) -> None:
    ids = [
        enqueue(engine, "add_lan", {"name": "lab", "subnet": "172.20.9.0/24"}),
        enqueue(engine, "add_decky", ADD_X),
        enqueue(engine, "attach_decky", {"decky": "x1", "lan": "lab"}),
        enqueue(engine, "update_decky", {"decky": "x1", "services": ["ssh", "telnet"]}),
    ]
    pushed: list[ResolvedTopology] = []
    reports = reconcile_topologies(engine, push=lambda t, agent: pushed.append(t) or True)
    assert [o.mutation_id for o in reports[0].outcomes] == ids
    assert all(o.state == "applied" for o in reports[0].outcomes)
    topology = topology_of(engine)
    decky = topology.decky("x1")
    assert decky is not None and decky.lans == {"office": "172.20.1.4", "lab": "172.20.9.2"}
    assert decky.services == ["ssh", "telnet"]
    assert len(pushed) == 1 and pushed[0].hash == topology.hash
    with new_session(engine) as session:
        assert not has_pending_topology_mutation(session)
        assert topologies_with_work(session) == []


def test_failure_marks_failed_changes_nothing_and_stops_the_round(
    engine: Engine, live: str
) -> None:
    before = topology_of(engine)
    bad = enqueue(engine, "add_decky", {"name": "x1", "lan": "office", "ip": "172.20.1.1"})
    after = enqueue(engine, "remove_decky", {"decky": "db01"})
    reports = reconcile_topologies(engine)
    assert [o.state for o in reports[0].outcomes] == ["failed"]
    failed = state_of(engine, bad)
    assert failed.state == "failed" and failed.error["code"] == "INVALID_TOPOLOGY"
    assert [i["code"] for i in failed.error["issues"]] == ["IP_RESERVED"]
    assert state_of(engine, after).state == "pending"
    topology = topology_of(engine)
    # refused by validation, nothing changed: the record still matches reality (issue 14.5)
    assert topology.status == "active"
    assert topology.model_dump() == before.model_dump()
    with new_session(engine) as session:
        degraded = session.scalars(select(TopologyEvent.reason).where(
            TopologyEvent.to_status == "degraded")).all()
    assert degraded == []
    # the next round applies the rest
    reports = reconcile_topologies(engine)
    assert [o.state for o in reports[0].outcomes] == ["applied"]


def test_idempotent_op_is_applied_without_change(engine: Engine, live: str) -> None:
    enqueue(engine, "add_decky", ADD_X)
    enqueue(engine, "add_decky", ADD_X)
    outcomes = reconcile_topologies(engine)[0].outcomes
    assert [(o.state, o.changed) for o in outcomes] == [("applied", True), ("applied", False)]


def test_removing_a_missing_decky_is_refused_not_applied(engine: Engine, live: str) -> None:
    missing = enqueue(engine, "remove_decky", {"decky": "nobody"})
    reconcile_topologies(engine)
    row = state_of(engine, missing)
    assert row.state == "failed" and row.error["code"] == "NOT_FOUND"
    assert topology_of(engine).status == "active"


def test_a_push_that_fails_is_reported_by_the_wait(engine: Engine, live: str) -> None:
    from decnet_lib.errors import DecnetError

    def broken(topology: ResolvedTopology, agent: str | None) -> bool:
        raise DecnetError("No such image: nope:latest")

    mutation_id = enqueue(engine, "add_decky", ADD_X)
    waited = wait_for_mutation(engine, mutation_id, push=broken, timeout=10)
    assert waited.mutation.state == "applied"
    assert waited.push_error is not None and "nope:latest" in waited.push_error
    assert topology_of(engine).status == "degraded"


def test_wait_for_mutation_drains_in_process(engine: Engine, live: str) -> None:
    mutation_id = enqueue(engine, "add_decky", ADD_X)
    row = wait_for_mutation(engine, mutation_id, timeout=10).mutation
    assert row.state == "applied"
    assert topology_of(engine).decky("x1") is not None


def test_watch_loop_reconciles_only_when_guard_says_so(engine: Engine, live: str) -> None:
    assert run_watch_loop(engine, interval=0.01, max_ticks=3) == 0
    enqueue(engine, "add_decky", ADD_X)
    assert run_watch_loop(engine, interval=0.01, max_ticks=3) == 1


def test_watch_loop_survives_database_errors(tmp_path: Path) -> None:
    """A round failing on the database (here: no schema) is logged; the loop goes on."""
    broken = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        assert run_watch_loop(broken, interval=0.01, max_ticks=3) == 0
    finally:
        broken.dispose()


def test_mutation_events_are_published_after_commit(engine: Engine, live: str) -> None:
    seen: list[str] = []
    set_publisher(lambda topic, payload: seen.append(topic.rsplit(".", 1)[-1]))
    try:
        enqueue(engine, "add_decky", ADD_X)
        enqueue(engine, "add_decky", {"name": "x2", "lan": "nowhere"})
        reconcile_topologies(engine)
    finally:
        set_publisher(None)
    assert seen == ["enqueued", "enqueued", "applying", "applied", "applying", "failed"]


def test_list_mutations_by_state(engine: Engine, live: str) -> None:
    enqueue(engine, "add_decky", ADD_X)
    enqueue(engine, "remove_decky", {"decky": "ghost"})
    reconcile_topologies(engine)
    with new_session(engine) as session:
        assert [m.op for m in list_mutations(session, "acme", "applied")] == ["add_decky"]
        # a missing decky is refused, not "applied" (issue 14.5)
        assert [m.op for m in list_mutations(session, "acme", "failed")] == ["remove_decky"]
        assert list_mutations(session, "acme", "pending") == []


def _explain(session: Session) -> str:
    dialect = session.get_bind().dialect.name
    prefix = "EXPLAIN QUERY PLAN " if dialect == "sqlite" else "EXPLAIN "
    rows = session.execute(text(prefix + guard_statement(dialect).text)).all()
    return " ".join(" ".join(str(cell) for cell in row) for row in rows)


def test_guard_query_uses_the_composite_index(engine: Engine, live: str) -> None:
    other = resolve_yaml("""
name: other
lans: [{name: dmz, subnet: 10.99.0.0/24, dmz: true}]
deckies: [{name: a, lans: {dmz: null}}]
""")
    with new_session(engine) as session:
        store_live(session, other)
        session.commit()
    for index in range(50):
        enqueue(engine, "add_decky", {"name": f"x{index}", "lan": "office"})
    with new_session(engine) as session:
        sqlite = session.get_bind().dialect.name == "sqlite"
        session.execute(text("ANALYZE" if sqlite else "ANALYZE TABLE mutations"))
        plan = _explain(session)
    assert "ix_mutations_state_topology" in plan, plan


def test_push_failure_degrades_and_a_matching_push_heals(engine: Engine, live: str) -> None:
    from decnet_lib.errors import DecnetError

    def broken(topology: ResolvedTopology, agent: str | None) -> bool:
        raise DecnetError("agent unreachable")

    enqueue(engine, "add_decky", ADD_X)
    reconcile_topologies(engine, push=broken)
    assert topology_of(engine).status == "degraded"
    enqueue(engine, "add_decky", {"name": "x2", "lan": "office"})
    reconcile_topologies(engine, push=lambda topology, agent: False)
    assert topology_of(engine).status == "degraded"
    enqueue(engine, "remove_decky", {"decky": "x2"})
    reconcile_topologies(engine, push=lambda topology, agent: True)
    assert topology_of(engine).status == "active"
    with new_session(engine) as session:
        reasons = session.scalars(select(TopologyEvent.reason).order_by(TopologyEvent.id)).all()
    assert "push failed: agent unreachable" in reasons
    assert reasons[-1] == "the target matches the topology"
