"""Mode gating: DECNET_MODE=agent hides and refuses the master-only command groups."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import typer

from decnet_lib.cli.output import fail
from decnet_lib.settings import peek_mode


def is_agent_mode() -> bool:
    """True when this process runs as an agent (DECNET_MODE=agent).

    Read without building the Settings: `decnet --help` hides the master-only groups by it.
    """
    return peek_mode() == "agent"


def require_master_mode(group: str) -> None:
    """Refuse a master-only group on an agent, with one clear line."""
    if is_agent_mode():
        fail(f"'decnet {group}' is master-only and this host runs with DECNET_MODE=agent",
             code="MASTER_ONLY", exit_code=2)


def add_master_group(app: typer.Typer, group: typer.Typer, name: str, help_text: str) -> None:
    """Register a master-only group: hidden in agent mode, and refused there when called."""

    def guard() -> None:
        require_master_mode(name)

    group.callback(help=help_text)(guard)
    app.add_typer(group, name=name, hidden=is_agent_mode())


def add_master_command(app: typer.Typer, name: str, command: Callable[..., Any]) -> None:
    """Register a master-only top-level command: hidden and refused in agent mode."""

    @functools.wraps(command)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        require_master_mode(name)
        return command(*args, **kwargs)

    app.command(name, hidden=is_agent_mode())(guarded)
