"""What a command gets from `main()`: the one Settings, built on first use, and the bus
wiring of the commands that change something (undone when the command ends)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from decnet_lib.settings import Settings


class CliState:
    """Per-invocation state: the settings and, once wired, how to unwire the bus."""

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._unwire: Callable[[], None] | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from decnet_lib.settings import get_settings

            self._settings = get_settings()
        return self._settings

    def publishing(self) -> Settings:
        """The settings, with status and mutation events routed to the bus from now on."""
        if self._unwire is None:
            from decnet_lib.master.wiring import wire_events

            self._unwire = wire_events(self.settings)
        return self.settings

    def close(self) -> None:
        unwire, self._unwire = self._unwire, None
        if unwire is not None:
            unwire()


def cli_state(ctx: typer.Context) -> CliState:
    """The invocation's state (created here when the app was not started by `main()`)."""
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        root.obj = CliState()
    return root.obj


def settings_of(ctx: typer.Context) -> Settings:
    """The settings of this invocation."""
    return cli_state(ctx).settings


def publishing_settings(ctx: typer.Context) -> Settings:
    """The settings of a command that changes state: its events go to the bus."""
    return cli_state(ctx).publishing()
