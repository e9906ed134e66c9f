"""The predecessor rule: an agent runs one topology, so a different one still deployed on
the same agent is torn down before another is deployed there (this machine's Docker holds
several topologies side by side)."""

from __future__ import annotations

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from decnet_lib.db import Topology
from decnet_lib.db.status import DEPLOYED_STATUSES, UNDEPLOYED_STATUSES
from decnet_lib.errors import DecnetError
from decnet_lib.master import lifecycle
from decnet_lib.master.targets import TargetFactory, is_local, target_for


def same_target(a: str | None, b: str | None) -> bool:
    """Whether two agent columns name the same target (any spelling of local is one)."""
    if is_local(a) and is_local(b):
        return True
    return (a or "").rstrip("/") == (b or "").rstrip("/")


def predecessors(session: Session | None, target: str, name: str) -> list[str]:
    """Other topologies still (possibly) deployed on the same agent (none for local)."""
    if session is None or is_local(target):
        return []
    rows = session.execute(
        select(Topology.name, Topology.agent)
        .where(Topology.name != name, Topology.status.in_(DEPLOYED_STATUSES))
        .order_by(Topology.name)
    )
    return [row_name for row_name, agent in rows if same_target(agent, target)]


def drop_predecessors(engine: Engine, target: str, names: list[str],
                      targets: TargetFactory = target_for) -> list[str]:
    """Tear down each predecessor on `target`; their names. Raises TEARDOWN_FAILED (with
    the failed teardown's report as `predecessor`) at the first that does not go."""
    torn = []
    for other in names:
        outcome = lifecycle.teardown(engine, other, targets=targets)
        if outcome.status not in UNDEPLOYED_STATUSES:
            raise DecnetError(
                f"cannot tear down the predecessor {other} on {target}: {outcome.message}",
                code="TEARDOWN_FAILED", predecessor=outcome.to_dict())
        torn.append(other)
    return torn
