"""Open the master database for a CLI command."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from decnet_lib.db import engine_from_settings, init_db, session_scope
from decnet_lib.settings import get_settings


@contextmanager
def open_session(create: bool = True) -> Iterator[Session]:
    """A transaction on the configured database; the schema is created when missing."""
    engine = open_engine(create)
    try:
        with session_scope(engine) as session:
            yield session
    finally:
        engine.dispose()


def open_engine(create: bool = True, **kwargs: Any) -> Engine:
    """The configured engine (make_engine options in kwargs), tables created if `create`."""
    engine = engine_from_settings(**kwargs)
    if create:
        init_db(engine)
    return engine


def database_exists() -> bool:
    """False only for a SQLite file that was never created (so read-only uses skip it)."""
    url = get_settings().db_url
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///")).exists()
    return True
