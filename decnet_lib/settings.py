"""Every DECNET_* variable, read in one place: `get_settings()` builds the one `Settings`.

Each front end (the CLI, the Ansible backend, the agent) builds its Settings once and passes
it down; nothing else reads the environment. This module stays cheap to import: the
`Settings` model (pydantic-settings) is loaded on first use, so `decnet --help` never pays
for it. `peek_mode()` reads DECNET_MODE alone, for the CLI's help-time gating.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from decnet_lib.settings_model import Settings

Mode = Literal["master", "agent"]
ENV_PREFIX = "DECNET_"
DEFAULT_MAX_DOCUMENT_BYTES = 64 * 1024 * 1024
"""Size limit of a topology file (DECNET_MAX_DOCUMENT_BYTES), here so that the loader
names it without loading pydantic-settings."""

__all__ = ["DEFAULT_MAX_DOCUMENT_BYTES", "ENV_PREFIX", "Mode", "Settings",
           "default_runtime_dir", "default_state_dir", "get_settings", "parse_mode", "peek_mode"]


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


def parse_mode(raw: object) -> Mode:
    """`agent` (any case, spaces ignored) is agent mode; anything else is the master."""
    return "agent" if str(raw or "").strip().lower() == "agent" else "master"


def peek_mode() -> Mode:
    """DECNET_MODE alone, without building the Settings (help-time command gating)."""
    return parse_mode(os.environ.get(f"{ENV_PREFIX}MODE"))


def get_settings(**overrides: Any) -> Settings:
    """Build the settings: `overrides` first, then DECNET_* variables, then the defaults."""
    from pydantic import ValidationError

    from decnet_lib.errors import InvalidSettings
    from decnet_lib.settings_model import Settings

    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise InvalidSettings(_first_problem(exc)) from None


def _first_problem(exc: Any) -> str:
    """`DECNET_NAME: what is wrong` for the first error of a pydantic ValidationError."""
    error = exc.errors()[0]
    name = ENV_PREFIX + "_".join(str(part) for part in error.get("loc", ())).upper()
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{name}: {message}"


def __getattr__(name: str) -> Any:
    """`Settings` is loaded on first use (pydantic-settings costs a tenth of a second)."""
    if name == "Settings":
        from decnet_lib.settings_model import Settings

        return Settings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
