"""The status state machine: allowed and refused moves, events, post-commit listeners."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from helpers import sample_resolved
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from decnet_lib.db import (
    STATUSES,
    Topology,
    TopologyEvent,
    add_status_listener,
    create_topology,
    remove_status_listener,
    require_topology,
    session_scope,
    transition,
)
from decnet_lib.errors import InvalidTransition

# The machine of DESIGN.md, written out independently of the implementation's table.
ALLOWED = {
    ("pending", "deploying"),
    ("deploying", "active"), ("deploying", "degraded"), ("deploying", "failed"),
    ("active", "degraded"), ("degraded", "active"),
    ("active", "tearing_down"), ("degraded", "tearing_down"), ("failed", "tearing_down"),
    ("deploying", "tearing_down"),
    ("tearing_down", "torn_down"), ("tearing_down", "failed"),
    ("torn_down", "deploying"), ("failed", "deploying"),
}

Call = tuple[str, str | None, str, str]


@pytest.fixture
def calls() -> Iterator[list[Call]]:
    """Every listener call, in order."""
    seen: list[Call] = []

    def listener(topology_id: str, from_status: str | None, to_status: str, reason: str) -> None:
        seen.append((topology_id, from_status, to_status, reason))

    add_status_listener(listener)
    try:
        yield seen
    finally:
        remove_status_listener(listener)


def _create(engine: Engine, name: str = "acme") -> str:
    with session_scope(engine) as session:
        return create_topology(session, sample_resolved(name)).id


def _events(engine: Engine) -> list[tuple[str | None, str, str]]:
    with session_scope(engine) as session:
        rows = session.execute(
            select(TopologyEvent.from_status, TopologyEvent.to_status, TopologyEvent.reason)
            .order_by(TopologyEvent.id)
        )
        return [tuple(row) for row in rows]


def test_every_pair_of_statuses(engine: Engine) -> None:
    _create(engine)
    for from_status in STATUSES:
        for to_status in STATUSES:
            with session_scope(engine) as session:
                session.execute(update(Topology).values(status=from_status))
            before = len(_events(engine))
            with session_scope(engine) as session:
                row = require_topology(session, "acme")
                if (from_status, to_status) in ALLOWED:
                    transition(session, row, to_status, "test")
                    assert row.status == to_status
                else:
                    with pytest.raises(InvalidTransition) as raised:
                        transition(session, row, to_status, "test")
                    assert "\n" not in str(raised.value)
                    assert from_status in str(raised.value) and to_status in str(raised.value)
            with session_scope(engine) as session:
                status = require_topology(session, "acme").status
            moved = (from_status, to_status) in ALLOWED
            assert status == (to_status if moved else from_status), (from_status, to_status)
            assert len(_events(engine)) == before + moved


def test_unknown_status_is_refused(engine: Engine, session: Session) -> None:
    _create(engine)
    with pytest.raises(InvalidTransition, match="unknown status"):
        transition(session, require_topology(session, "acme"), "exploded", "x")


def test_a_life_is_recorded_with_reasons(engine: Engine) -> None:
    _create(engine)
    path = ["deploying", "active", "degraded", "active", "tearing_down", "torn_down",
            "deploying", "failed"]
    for status in path:
        with session_scope(engine) as session:
            row = require_topology(session, "acme")
            before = row.updated_at
            transition(session, row, status, f"to {status}")
            assert row.updated_at >= before
    expected = [(None, "pending", "created")]
    previous = "pending"
    for status in path:
        expected.append((previous, status, f"to {status}"))
        previous = status
    assert _events(engine) == expected


def test_listeners_run_after_commit_only(engine: Engine, calls: list[Call]) -> None:
    topology_id = _create(engine)
    assert calls == [(topology_id, None, "pending", "created")]
    calls.clear()
    with session_scope(engine) as session:
        transition(session, require_topology(session, "acme"), "deploying", "go")
        assert calls == []  # not yet committed
    assert calls == [(topology_id, "pending", "deploying", "go")]


def test_listeners_are_not_called_on_rollback(
    engine: Engine, session_factory: sessionmaker[Session], calls: list[Call]
) -> None:
    topology_id = _create(engine)
    calls.clear()
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        transition(session, require_topology(session, "acme"), "deploying", "doomed")
        raise RuntimeError("abort")
    assert calls == []
    with session_factory() as session:  # closed without commit: dropped, not carried over
        transition(session, require_topology(session, "acme"), "deploying", "abandoned")
    with session_factory() as session:
        transition(session, require_topology(session, "acme"), "deploying", "first try")
        session.rollback()
        transition(session, require_topology(session, "acme"), "deploying", "second try")
        session.commit()
    assert calls == [(topology_id, "pending", "deploying", "second try")]
    assert _events(engine)[-1] == ("pending", "deploying", "second try")
    assert len(_events(engine)) == 2


def test_savepoints_keep_or_drop_their_changes(engine: Engine, calls: list[Call]) -> None:
    first, second = _create(engine, "one"), _create(engine, "two")
    calls.clear()
    with session_scope(engine) as session:
        with pytest.raises(RuntimeError), session.begin_nested():
            transition(session, require_topology(session, "one"), "deploying", "dropped")
            raise RuntimeError("inner failure")
        with session.begin_nested():
            transition(session, require_topology(session, "two"), "deploying", "kept")
        assert calls == []
    assert calls == [(second, "pending", "deploying", "kept")]
    with session_scope(engine) as session:
        assert require_topology(session, "one").status == "pending"
        assert require_topology(session, "two").status == "deploying"
    assert first != second


def test_a_failing_listener_never_breaks_the_caller(
    engine: Engine, calls: list[Call], caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_args: object) -> None:
        raise RuntimeError("listener bug")

    add_status_listener(broken)
    try:
        _create(engine)
        with caplog.at_level(logging.ERROR), session_scope(engine) as session:
            transition(session, require_topology(session, "acme"), "deploying", "go")
    finally:
        remove_status_listener(broken)
    assert [call[2] for call in calls] == ["pending", "deploying"]
    assert "listener bug" in caplog.text
    with session_scope(engine) as session:
        assert require_topology(session, "acme").status == "deploying"


def test_a_stale_status_is_not_overwritten(engine: Engine) -> None:
    _create(engine)
    with session_scope(engine) as session:
        stale = require_topology(session, "acme")  # still says pending after this commits
    with session_scope(engine) as session:
        transition(session, require_topology(session, "acme"), "deploying", "first")
    with pytest.raises(InvalidTransition, match="concurrently"), session_scope(engine) as s:
        transition(s, s.merge(stale, load=False), "deploying", "second")
    assert [event[2] for event in _events(engine)] == ["created", "first"]
