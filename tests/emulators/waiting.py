"""Waiting for an emulator's events: they reach its log a moment after its replies."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from decnet_lib.logs.emulator_line import EmulatorEvent


def events_until(target: Any, kind: str, done: Callable[[list[EmulatorEvent]], bool],
                 wait: float = 3.0) -> list[EmulatorEvent]:
    """Events of `kind` once `done(events)` holds, or what there is after `wait` s."""
    deadline = time.monotonic() + wait
    while True:
        found = target.events(kind)
        if done(found) or time.monotonic() > deadline:
            return list(found)
        time.sleep(0.05)


def wait_for(target: Any, kind: str, want: Callable[[EmulatorEvent], bool],
             timeout: float = 5.0) -> EmulatorEvent:
    """The first `kind` event `want` accepts; AssertionError when none comes in time."""
    found = events_until(target, kind, lambda events: any(want(e) for e in events), timeout)
    matching = [e for e in found if want(e)]
    if not matching:
        raise AssertionError(f"no matching {kind} event in {target.events()}")
    return matching[0]
