"""Test helpers: build resolved topologies from YAML the way the CLI does."""

from __future__ import annotations

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from decnet_lib.db import Base, Topology, create_topology
from decnet_lib.db.status import transition
from decnet_lib.issues import has_errors
from decnet_lib.topology.loader import decode_document
from decnet_lib.topology.resolve import resolve
from decnet_lib.topology.resolved import ResolvedTopology
from decnet_lib.validation.validate import validate_data

SAMPLE_YAML = """
name: {name}
lans:
  - {{name: dmz, subnet: {prefix}.0.0/24, dmz: true, meta: {{note: front}}}}
  - {{name: office, subnet: {prefix}.1.0/24}}
  - {{name: vault, subnet: {prefix}.2.0/28}}
deckies:
  - name: gw01
    archetype: linux-server
    services: [ssh, http]
    lans: {{dmz: {prefix}.0.10, office: null}}
    forwards_l3: true
    service_config: {{ssh: {{banner: "SSH-2.0-OpenSSH_9.2p1 Debian-2"}}}}
    meta: {{rack: a1}}
  - name: web01
    services: [http, https]
    lans: {{dmz: null}}
    expose: true
    images: {{http: "example/httpd:1"}}
  - name: files01
    services: [smb, ftp]
    lans: {{office: null, vault: null}}
    forwards_l3: true
  - name: db01
    services: [mysql]
    lans: {{vault: {prefix}.2.5}}
"""


def resolve_yaml(text: str) -> ResolvedTopology:
    """Decode, validate and resolve a topology document; fails loudly on any error issue."""
    doc, issues = validate_data(decode_document(text.encode()))
    assert doc is not None and not has_errors(issues), issues
    return resolve(doc)


def sample_resolved(name: str = "acme", prefix: str = "172.20") -> ResolvedTopology:
    """A small valid maze: 3 LANs (DMZ, office, vault), 4 deckies, a bridge, an exposed one."""
    return resolve_yaml(SAMPLE_YAML.format(name=name, prefix=prefix))


def big_yaml(name: str, deckies: int, per_lan: int = 200) -> str:
    """A valid document with `deckies` deckies spread over enough /24 LANs (10.x.y.0/24)."""
    lans = max(1, -(-deckies // per_lan))
    lines = [f"name: {name}", "lans:"]
    for index in range(lans):
        dmz = ", dmz: true" if index == 0 else ""
        lines.append(f"  - {{name: lan{index}, subnet: 10.{index // 256}.{index % 256}.0/24{dmz}}}")
    lines.append("deckies:")
    for index in range(deckies):
        lan = index // per_lan
        lans_of = f"lan{lan}: null" if lan == 0 else f"lan{lan}: null, lan{lan - 1}: null"
        if index % per_lan and lan:
            lans_of = f"lan{lan}: null"
        lines.append(f"  - {{name: d{index}, services: [ssh], lans: {{{lans_of}}}}}")
    return "\n".join(lines) + "\n"


TOPOLOGY_TABLES = ("topologies", "lans", "deckies", "edges", "topology_events", "mutations")
"""The tables a topology owns (deleted with it); attacker events outlive it."""


def count_rows(engine: Engine, only: tuple[str, ...] | None = None) -> dict[str, int]:
    """Rows in every table of the schema (or the `only` ones), by table name."""
    with engine.connect() as connection:
        return {
            table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
            for table in Base.metadata.sorted_tables if only is None or table.name in only
        }


def store_live(session: Session, resolved: ResolvedTopology) -> Topology:
    """Store a topology and move it to `active`, as a deploy would (caller commits)."""
    row = create_topology(session, resolved)
    transition(session, row, "deploying", "test")
    transition(session, row, "active", "test")
    return row
