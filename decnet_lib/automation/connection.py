"""How a module reaches MazeNET: the database, the state directory and the agent (mTLS).

One shared set of options for every module (the collection's `connection` doc fragment and
`module_utils/args_common.py` mirror `CONNECTION_OPTIONS`). Unset options fall back to the
DECNET_* environment, then to the library defaults (SQLite in the state directory): the
options are laid over the environment in one `Settings`, and the environment is left alone.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import TYPE_CHECKING, Any

from decnet_lib.settings import get_settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from decnet_lib.master.targets import TargetFactory
    from decnet_lib.settings import Settings

LOCAL = "local"
CONNECTION_OPTIONS: dict[str, str] = {
    "db_url": "DECNET_DB_URL",
    "state_dir": "DECNET_STATE_DIR",
    "agent_url": "DECNET_AGENT_URL",
    "client_cert": "DECNET_MASTER_CERT",
    "client_key": "DECNET_MASTER_KEY",
    "ca_cert": "DECNET_CA",
    "bus_socket": "DECNET_BUS_SOCKET",
}
"""Option name -> the environment variable it falls back to."""

SETTINGS_FIELDS: dict[str, str] = {
    "db_url": "db_url", "state_dir": "state_dir", "agent_url": "agent_url",
    "client_cert": "master_cert", "client_key": "master_key", "ca_cert": "ca",
    "bus_socket": "bus_socket",
}
"""Option name -> the Settings field it sets."""


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
    """Replaces the real targets (tests inject fake targets)."""

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

    @cached_property
    def settings(self) -> Settings:
        """The options laid over the DECNET_* environment and the defaults (built once)."""
        overrides = {SETTINGS_FIELDS[name]: getattr(self, name) for name in CONNECTION_OPTIONS
                     if getattr(self, name) is not None}
        return get_settings(**overrides)

    @property
    def target(self) -> str:
        """`local` (this machine's Docker) or the agent URL."""
        url = self.settings.agent_url or ""
        return url if url and url != LOCAL else LOCAL

    def database_url(self) -> str:
        """The database URL these settings lead to."""
        return self.settings.db_url

    def targets(self) -> TargetFactory:
        """The target factory (this machine's Docker, or an agent with these credentials)."""
        if self.target_factory is not None:
            return self.target_factory
        from decnet_lib.master.targets import targets_for

        return targets_for(self.settings)

    @contextmanager
    def engine(self, check_mode: bool = False, immediate: bool | None = None
               ) -> Iterator[Engine | None]:
        """An engine on the database, schema created; disposed afterwards.

        In check mode nothing is created and a database that does not exist yet gives None.
        """
        from decnet_lib.master.database import existing_engine

        with existing_engine(self.settings, check_mode, immediate) as engine:
            yield engine
