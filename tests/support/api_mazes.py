"""Small topology documents for the API tests, and storing one as live without Docker."""

from __future__ import annotations

from typing import Any

from helpers import store_live
from sqlalchemy.orm import Session

from decnet_lib.db import make_engine
from decnet_lib.topology.resolve import resolve
from decnet_lib.validation.validate import validate_data


def maze(name: str, third: int) -> dict[str, Any]:
    """A DMZ and an office LAN on 10.231.<third>/24 and <third+1>/24, three deckies."""
    return {"name": name,
            "lans": [{"name": "dmz", "subnet": f"10.231.{third}.0/24", "dmz": True},
                     {"name": "office", "subnet": f"10.231.{third + 1}.0/24"}],
            "deckies": [{"name": "gw01", "services": ["ssh"], "forwards_l3": True,
                         "lans": {"dmz": None, "office": None}},
                        {"name": "web01", "services": ["http"], "lans": {"dmz": None}},
                        {"name": "db01", "services": ["mysql"], "lans": {"office": None}}]}


def store_live_maze(db_url: str, name: str, third: int) -> str:
    """Store `maze(name, third)` as active (as a deploy would leave it); its id."""
    doc, issues = validate_data(maze(name, third))
    assert doc is not None, issues
    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            row = store_live(session, resolve(doc))
            session.commit()
            return row.id
    finally:
        engine.dispose()
