"""How a module reaches MazeNET: the database, the state directory and the agent (mTLS).

One shared set of options for every module (the collection's `connection` doc fragment and
`module_utils/args_common.py` mirror `CONNECTION_OPTIONS`). Unset options fall back to the
DECNET_* environment, then to the library defaults (SQLite in the state directory).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, inspect

from decnet_lib.db import init_db, make_engine
from decnet_lib.master.lifecycle import TargetFactory
from decnet_lib.master.targets import LOCAL, target_for
from decnet_lib.settings import get_settings

CONNECTION_OPTIONS: dict[str, str] = {
    "db_url": "DECNET_DB_URL",
    "state_dir": "DECNET_STATE_DIR",
    "agent_url": "DECNET_AGENT_URL",
    "client_cert": "DECNET_MASTER_CERT",
    "client_key": "DECNET_MASTER_KEY",
    "ca_cert": "DECNET_CA",
    "bus_socket": "DECNET_BUS_SOCKET",
}
"""Option name -> the environment variable it falls back to (and is exported as)."""


@dataclass(frozen=True)
class Connection:
    """Connection settings of one module call; None means "environment or default"."""

    db_url: str | None = None
    state_dir: str | None = None
    agent_url: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    ca_cert: str | None = None
    bus_socket: str | None = None
    target_factory: TargetFactory | None = field(default=None, compare=False, repr=False)
    """Replaces `target_for` (tests inject fake targets)."""

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Connection:
        """Pick the connection options out of a module's parameters (others are ignored)."""
        values = {}
        for item in fields(cls):
            if item.name == "target_factory":
                continue
            value = params.get(item.name)
            values[item.name] = str(value) if value not in (None, "") else None
        return cls(**values)

    @property
    def target(self) -> str:
        """`local` (this machine's Docker) or the agent URL."""
        url = self.agent_url or os.environ.get(CONNECTION_OPTIONS["agent_url"]) or ""
        return url if url and url != LOCAL else LOCAL

    @contextmanager
    def environment(self) -> Iterator[None]:
        """Export the given options as DECNET_* for the library, restore afterwards."""
        saved: dict[str, str | None] = {}
        try:
            for name, variable in CONNECTION_OPTIONS.items():
                value = getattr(self, name)
                if value is not None:
                    saved[variable] = os.environ.get(variable)
                    os.environ[variable] = value
            yield
        finally:
            for variable, old in saved.items():
                if old is None:
                    os.environ.pop(variable, None)
                else:
                    os.environ[variable] = old

    def database_url(self) -> str:
        """The database URL these settings lead to."""
        with self.environment():
            return get_settings().db_url

    def targets(self) -> TargetFactory:
        """The target factory (this machine's Docker or an agent over mTLS).

        Agent credentials are read from the environment that `environment()` sets.
        """
        return self.target_factory or target_for

    @contextmanager
    def engine(self, check_mode: bool = False, immediate: bool | None = None
               ) -> Iterator[Engine | None]:
        """An engine on the database, schema created; disposed afterwards.

        In check mode nothing is created: a SQLite file or a schema that does not exist
        yet gives None (an empty database, as far as the caller is concerned).
        `immediate` (default: unless in check mode) makes every SQLite transaction take the
        write lock at BEGIN, so a read-then-write waits for a concurrent writer (the
        reconciler, another task) instead of failing with "database is locked".
        """
        url = self.database_url()
        if check_mode and _sqlite_file_missing(url):
            yield None
            return
        if immediate is None:
            immediate = not check_mode
        engine = make_engine(url, sqlite_immediate=immediate)
        try:
            if check_mode:
                present = inspect(engine).has_table("topologies")
                yield engine if present else None
            else:
                init_db(engine)
                yield engine
        finally:
            engine.dispose()


def _sqlite_file_missing(url: str) -> bool:
    """True for a SQLite file URL whose file does not exist."""
    for prefix in ("sqlite:///", "sqlite+pysqlite:///"):
        if url.startswith(prefix):
            path = url.removeprefix(prefix).split("?", 1)[0]
            return path not in ("", ":memory:") and not Path(path).expanduser().exists()
    return False
