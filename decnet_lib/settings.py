"""Settings from the environment (DECNET_*), read once per call of `get_settings()`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Mode = Literal["master", "agent"]


def default_state_dir() -> Path:
    """/var/lib/decnet for root, else $XDG_STATE_HOME/decnet (~/.local/state/decnet)."""
    if os.geteuid() == 0:
        return Path("/var/lib/decnet")
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "decnet"


def default_runtime_dir() -> Path:
    """/run/decnet for root, else $XDG_RUNTIME_DIR/decnet (or the state dir)."""
    if os.geteuid() == 0:
        return Path("/run/decnet")
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    return Path(runtime) / "decnet" if runtime else default_state_dir() / "run"


@dataclass(frozen=True, slots=True)
class Settings:
    """Where MazeNET keeps its state and how it talks to its parts."""

    state_dir: Path
    db_url: str
    bus_socket: Path
    agent_log_file: Path
    ingest_log_file: Path
    mode: Mode
    containment: bool = True  # DECNET_CONTAINMENT=off only to measure what it costs
    deploy_lease_seconds: float = 60.0  # DECNET_DEPLOY_LEASE_SECONDS

    @property
    def is_master(self) -> bool:
        return self.mode == "master"


def get_settings() -> Settings:
    """Build the settings from DECNET_* environment variables and their defaults."""
    env = os.environ
    state_dir = Path(env.get("DECNET_STATE_DIR") or default_state_dir())
    mode_raw = (env.get("DECNET_MODE") or "master").strip().lower()
    mode: Mode = "agent" if mode_raw == "agent" else "master"
    return Settings(
        state_dir=state_dir,
        db_url=env.get("DECNET_DB_URL") or f"sqlite:///{state_dir / 'decnet.db'}",
        bus_socket=Path(env.get("DECNET_BUS_SOCKET") or default_runtime_dir() / "bus.sock"),
        agent_log_file=Path(env.get("DECNET_AGENT_LOG_FILE") or state_dir / "agent-decky.log"),
        ingest_log_file=Path(env.get("DECNET_INGEST_LOG_FILE") or state_dir / "ingest.log"),
        mode=mode,
        containment=(env.get("DECNET_CONTAINMENT") or "on").strip().lower()
        not in ("off", "0", "false", "no"),
        deploy_lease_seconds=_positive(env.get("DECNET_DEPLOY_LEASE_SECONDS"), 60.0),
    )


def _positive(raw: str | None, default: float) -> float:
    """A positive number from the environment, else the default."""
    try:
        value = float(raw or "")
    except ValueError:
        return default
    return value if value > 0 else default
