"""Store and load resolved topologies; each write happens inside the caller's transaction.

Rows are written in bulk (one multi-row INSERT per table), so 10,000 deckies take seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Literal, overload

from sqlalchemy import Select, bindparam, delete, func, inspect, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from decnet_lib.catalog import SERVICES
from decnet_lib.db.models import Decky, Edge, Lan, Topology, TopologyEvent, utcnow
from decnet_lib.db.status import OCCUPYING_STATUSES, queue_change
from decnet_lib.errors import AlreadyExists, NotFound, Refused
from decnet_lib.topology.addressing import gateway_of, parse_subnet
from decnet_lib.topology.document import DEFAULT_EMULATION
from decnet_lib.topology.hashing import canonical_hash
from decnet_lib.topology.resolve import image_map
from decnet_lib.topology.resolved import ResolvedDecky, ResolvedLan, ResolvedTopology
from decnet_lib.validation.context import Neighbour, ValidationContext

DELETABLE_STATUSES = frozenset({"pending", "failed", "torn_down"})
RunningContainers = Callable[[str], Sequence[str]]
Row = dict[str, Any]

_CHUNK = 500  # ids per IN (...) list: far below every engine's bound-parameter limit
_LAN_FIELDS = ("name", "subnet", "dmz", "driver", "parent", "meta", "position")
_DECKY_FIELDS = (
    "name", "archetype", "services", "forwards_l3", "expose", "position", "config",
)


# --- reading ---------------------------------------------------------------------------------


def get_topology(session: Session, name: str) -> Topology | None:
    """The topology called `name`, or None."""
    return session.scalars(select(Topology).where(Topology.name == name)).one_or_none()


def require_topology(session: Session, name: str) -> Topology:
    """The topology called `name`; raises NotFound."""
    row = get_topology(session, name)
    if row is None:
        raise NotFound(f"no topology named {name!r}")
    return row


@overload
def lock_topology(session: Session, topology_id: str) -> Topology: ...
@overload
def lock_topology(session: Session, topology_id: str, *, missing_ok: Literal[True]
                  ) -> Topology | None: ...


def lock_topology(session: Session, topology_id: str, *, missing_ok: bool = False
                  ) -> Topology | None:
    """The topology row, locked for update until the transaction ends (the one place that
    locks a topology row). A missing row raises NoResultFound, or is None with
    `missing_ok`."""
    result = session.execute(
        select(Topology).where(Topology.id == topology_id).with_for_update()
    )
    return result.scalar_one_or_none() if missing_ok else result.scalar_one()


def list_topologies(session: Session) -> list[Topology]:
    """Every topology, by name."""
    return list(session.scalars(select(Topology).order_by(Topology.name)))


def child_counts(session: Session) -> tuple[dict[str, int], dict[str, int]]:
    """LANs and deckies per topology id (two grouped counts over all topologies)."""
    lans = session.execute(select(Lan.topology_id, func.count()).group_by(Lan.topology_id))
    deckies = session.execute(select(Decky.topology_id, func.count())
                              .group_by(Decky.topology_id))
    return ({topology_id: count for topology_id, count in lans},
            {topology_id: count for topology_id, count in deckies})


def load_resolved(session: Session, row: Topology) -> ResolvedTopology:
    """The stored resolved form of `row`: LANs and deckies in document order, home LAN first.

    A decky whose config blob is NULL (not hydrated yet) gets its name and services with no
    service_config and the default images.
    """
    lans = [
        ResolvedLan(
            id=lan.id, name=lan.name, subnet=lan.subnet, gateway=_gateway(lan.subnet),
            dmz=lan.dmz, driver=lan.driver, parent=lan.parent, meta=lan.meta or {},
        )
        for lan in session.execute(_lan_rows(row.id).order_by(Lan.position))
    ]
    lan_names = {lan.id: lan.name for lan in lans}
    memberships: dict[str, dict[str, str]] = {}
    edges = select(Edge.decky_id, Edge.lan_id, Edge.ip).where(Edge.topology_id == row.id)
    for decky_id, lan_id, ip in session.execute(edges.order_by(Edge.decky_id, Edge.position)):
        memberships.setdefault(decky_id, {})[lan_names[lan_id]] = ip
    deckies = [
        _resolved_decky(decky, memberships.get(decky.id, {}))
        for decky in session.execute(_decky_rows(row.id).order_by(Decky.position))
    ]
    return ResolvedTopology(
        id=row.id, name=row.name, status=row.status, hash=row.hash, lans=lans, deckies=deckies
    )


def _gateway(subnet: str) -> str:
    network = parse_subnet(subnet)
    return str(gateway_of(network)) if network is not None else ""


def _lan_rows(topology_id: str) -> Select[Any]:
    columns = [getattr(Lan, name) for name in _LAN_FIELDS]
    return select(Lan.id, *columns).where(Lan.topology_id == topology_id)


def _decky_rows(topology_id: str) -> Select[Any]:
    columns = [getattr(Decky, name) for name in _DECKY_FIELDS]
    return select(Decky.id, *columns).where(Decky.topology_id == topology_id)


def _resolved_decky(decky: Any, lans: dict[str, str]) -> ResolvedDecky:
    services = list(decky.services or [])
    config = decky.config if isinstance(decky.config, dict) else {}
    images = config.get("images")
    emulation = config.get("emulation") if config.get("emulation") in ("light", "full") \
        else DEFAULT_EMULATION
    return ResolvedDecky(
        id=decky.id,
        name=decky.name,
        archetype=decky.archetype,
        services=services,
        lans=lans,
        forwards_l3=decky.forwards_l3,
        expose=decky.expose,
        service_config=config.get("service_config") or {},
        images=images if isinstance(images, dict) else image_map(services, {}, emulation),
        emulation=emulation,
        domain=config.get("domain") or None,
        meta=config.get("meta") or {},
    )


# --- writing ---------------------------------------------------------------------------------


def _lan_row(topology_id: str, lan: ResolvedLan, position: int) -> Row:
    return {
        "id": lan.id, "topology_id": topology_id, "name": lan.name, "subnet": lan.subnet,
        "dmz": lan.dmz, "driver": lan.driver, "parent": lan.parent, "meta": lan.meta,
        "position": position,
    }


def _decky_row(topology_id: str, decky: ResolvedDecky, position: int) -> Row:
    config: dict[str, Any] = {"service_config": decky.service_config, "images": decky.images,
                              "meta": decky.meta, "emulation": decky.emulation}
    if decky.domain:
        config["domain"] = decky.domain
    return {
        "id": decky.id, "topology_id": topology_id, "name": decky.name,
        "archetype": decky.archetype, "services": list(decky.services),
        "forwards_l3": decky.forwards_l3, "expose": decky.expose, "position": position,
        "config": config,
    }


def _edge_rows(topology_id: str, resolved: ResolvedTopology) -> dict[tuple[str, str], Row]:
    """The edges of every decky keyed by (decky id, LAN id), each decky's home first."""
    lan_ids = {lan.name: lan.id for lan in resolved.lans}
    edges: dict[tuple[str, str], Row] = {}
    for decky in resolved.deckies:
        for position, (lan_name, ip) in enumerate(decky.lans.items()):
            if lan_name not in lan_ids:
                raise ValueError(f"decky {decky.name} sits on unknown LAN {lan_name!r}")
            edges[(decky.id, lan_ids[lan_name])] = {
                "topology_id": topology_id, "decky_id": decky.id, "lan_id": lan_ids[lan_name],
                "ip": ip, "position": position,
            }
    return edges


def _bulk_insert(session: Session, model: type[Any], rows: list[Row]) -> None:
    if rows:
        session.execute(model.__table__.insert(), rows)


def create_topology(
    session: Session, resolved: ResolvedTopology, agent: str | None = None
) -> Topology:
    """Store a new topology, its LANs, deckies and edges, all or nothing; status `pending`.

    Runs in a SAVEPOINT of the caller's transaction: on any error nothing of it remains.
    Raises AlreadyExists when the name is taken.
    """
    if get_topology(session, resolved.name) is not None:
        raise AlreadyExists(f"a topology named {resolved.name!r} already exists")
    topology_id = resolved.id
    lans = [_lan_row(topology_id, lan, i) for i, lan in enumerate(resolved.lans)]
    deckies = [_decky_row(topology_id, decky, i) for i, decky in enumerate(resolved.deckies)]
    edges = list(_edge_rows(topology_id, resolved).values())
    row = Topology(
        id=topology_id, name=resolved.name, status="pending", hash=_hash(resolved),
        agent=agent, version=1,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
            _bulk_insert(session, Lan, lans)
            _bulk_insert(session, Decky, deckies)
            _bulk_insert(session, Edge, edges)
            session.add(TopologyEvent(
                topology_id=topology_id, from_status=None, to_status="pending",
                reason="created",
            ))
            session.flush()
    except IntegrityError:
        if get_topology(session, resolved.name) is not None:
            raise AlreadyExists(f"a topology named {resolved.name!r} already exists") from None
        raise
    queue_change(session, (topology_id, None, "pending", "created"))
    return row


def _hash(resolved: ResolvedTopology) -> str:
    return canonical_hash(resolved.model_dump())


def _chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start:start + _CHUNK]


def _delete_ids(session: Session, model: type[Any], ids: Iterable[Any]) -> None:
    table = model.__table__
    for chunk in _chunks(sorted(ids)):
        session.execute(delete(table).where(table.c.id.in_(chunk)))


def _update_rows(session: Session, model: type[Any], rows: list[Row]) -> None:
    """UPDATE rows by primary key (`id` in each row), one executemany per set of columns."""
    table = model.__table__
    groups: dict[tuple[str, ...], list[Row]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(key for key in row if key != "id")), []).append(row)
    for columns, group in groups.items():
        statement = (
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values({column: bindparam(f"b_{column}") for column in columns})
        )
        session.execute(statement, [{f"b_{k}": v for k, v in row.items()} for row in group])


def _sync_table(
    session: Session,
    model: type[Any],
    fields: Sequence[str],
    current: dict[str, Row],
    desired: dict[str, Row],
) -> None:
    """Make one child table's rows match `desired` (keyed by id); kept ids stay.

    Only `fields` are compared and updated. Renamed rows first take a parking name
    ('~' + id, never a valid name), so swapping or reusing names never trips the
    (topology_id, name) unique constraint.
    """
    _delete_ids(session, model, current.keys() - desired.keys())
    changed = [
        {"id": key, **{field: row[field] for field in fields}}
        for key, row in desired.items()
        if key in current and any(current[key][field] != row[field] for field in fields)
    ]
    renamed = [row for row in changed if current[row["id"]]["name"] != row["name"]]
    _update_rows(session, model, [{"id": row["id"], "name": f"~{row['id']}"} for row in renamed])
    _update_rows(session, model, changed)
    _bulk_insert(session, model, [row for key, row in desired.items() if key not in current])


def save_resolved(session: Session, row: Topology, resolved: ResolvedTopology) -> Topology:
    """Replace the LANs, deckies and edges of `row` with `resolved` (caller's transaction).

    Rows are diffed by id: unchanged rows are left alone, changed ones updated in place, the
    rest deleted or inserted. The hash is recomputed and the version bumped.
    """
    if resolved.id != row.id or resolved.name != row.name:
        raise ValueError(
            f"resolved topology {resolved.name} ({resolved.id}) is not "
            f"{row.name} ({row.id})"
        )
    session.flush()
    lans_now = {lan.id: dict(lan._mapping) for lan in session.execute(_lan_rows(row.id))}
    deckies_now = {d.id: dict(d._mapping) for d in session.execute(_decky_rows(row.id))}
    edges_now = {
        (edge.decky_id, edge.lan_id): edge
        for edge in session.execute(
            select(Edge.id, Edge.decky_id, Edge.lan_id, Edge.ip, Edge.position)
            .where(Edge.topology_id == row.id)
        )
    }
    lans = {lan.id: _lan_row(row.id, lan, i) for i, lan in enumerate(resolved.lans)}
    deckies = {d.id: _decky_row(row.id, d, i) for i, d in enumerate(resolved.deckies)}
    edges = _edge_rows(row.id, resolved)

    _delete_ids(session, Edge, [e.id for key, e in edges_now.items() if key not in edges])
    _sync_table(session, Decky, _DECKY_FIELDS, deckies_now, deckies)
    _sync_table(session, Lan, _LAN_FIELDS, lans_now, lans)
    _update_rows(session, Edge, [
        {"id": edges_now[key].id, "ip": edge["ip"], "position": edge["position"]}
        for key, edge in edges.items()
        if key in edges_now
        and (edges_now[key].ip, edges_now[key].position) != (edge["ip"], edge["position"])
    ])
    _bulk_insert(session, Edge, [edge for key, edge in edges.items() if key not in edges_now])

    row.hash = _hash(resolved)
    row.version = (row.version or 0) + 1
    row.updated_at = utcnow()
    session.flush()
    _expire_children(session, row)
    return row


def _expire_children(session: Session, row: Topology) -> None:
    """Forget loaded child objects and collections of `row`: the tables changed under them."""
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Lan | Decky | Edge) and inspect(obj).dict.get("topology_id") == row.id:
            session.expire(obj)
    session.expire(row, ["lans", "deckies", "edges"])


# --- deleting --------------------------------------------------------------------------------


def delete_topology(
    session: Session,
    name: str,
    *,
    force: bool = False,
    running_containers: RunningContainers | None = None,
) -> str:
    """Delete a topology with every child row (LANs, deckies, edges, mutations, events).

    Refused unless its status is pending, failed or torn_down; `force` lifts that status
    check only. Always refused while `running_containers(topology_id)` names a container.
    Returns the deleted topology's id.
    """
    row = require_topology(session, name)
    if not force and row.status not in DELETABLE_STATUSES:
        raise Refused(
            f"topology {name} is {row.status}: tear it down first "
            "(or force the status check with --force)"
        )
    running = list(running_containers(row.id)) if running_containers is not None else []
    if running:
        more = f" and {len(running) - 1} more" if len(running) > 1 else ""
        raise Refused(
            f"topology {name} still has running containers ({running[0]}{more}): "
            "tear it down first"
        )
    topology_id = row.id
    session.delete(row)
    session.flush()
    return topology_id


# --- the neighbourhood -----------------------------------------------------------------------


def _live_ids(exclude_id: str | None = None, agent: str | None = None) -> Select[Any]:
    """Ids of topologies that are not torn down (on `agent` or not placed yet, when given)."""
    query = select(Topology.id).where(Topology.status.in_(OCCUPYING_STATUSES))
    if exclude_id is not None:
        query = query.where(Topology.id != exclude_id)
    if agent is not None:
        query = query.where(or_(Topology.agent == agent, Topology.agent.is_(None)))
    return query


def neighbours(
    session: Session, exclude_id: str | None = None, agent: str | None = None
) -> ValidationContext:
    """What a topology must not collide with: the subnets and published ports of the others.

    Every topology that is not torn down counts, except `exclude_id`; with `agent`, only
    those on that agent or not placed on any agent yet.
    """
    live = _live_ids(exclude_id, agent)
    names = {
        topology_id: name
        for topology_id, name in session.execute(
            select(Topology.id, Topology.name)
            .where(Topology.id.in_(live)).order_by(Topology.name)
        )
    }
    subnets: dict[str, list[str]] = {topology_id: [] for topology_id in names}
    for topology_id, subnet in session.execute(
        select(Lan.topology_id, Lan.subnet).where(Lan.topology_id.in_(live))
        .order_by(Lan.topology_id, Lan.position)
    ):
        if topology_id in subnets:  # one committed between these reads counts next time
            subnets[topology_id].append(subnet)
    ports: dict[str, set[tuple[int, str]]] = {topology_id: set() for topology_id in names}
    for topology_id, services in session.execute(
        select(Decky.topology_id, Decky.services)
        .where(Decky.topology_id.in_(live), Decky.expose.is_(True))
    ):
        if topology_id not in ports:
            continue
        for service in services or []:
            if service in SERVICES:
                ports[topology_id].update(
                    (port.number, port.protocol) for port in SERVICES[service].ports
                )
    return ValidationContext(neighbours=tuple(
        Neighbour(name=name, subnets=tuple(subnets[topology_id]),
                  exposed_ports=tuple(sorted(ports[topology_id])))
        for topology_id, name in names.items()
    ))


def used_subnets(session: Session) -> list[str]:
    """Subnets of every topology that is not torn down (each once)."""
    rows = session.scalars(
        select(Lan.subnet).join(Topology, Lan.topology_id == Topology.id)
        .where(Topology.status.in_(OCCUPYING_STATUSES))
        .order_by(Topology.name, Lan.position)
    )
    return list(dict.fromkeys(rows))
