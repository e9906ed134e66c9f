"""Where the reconciler sends a live topology's new resolved form after mutations."""

from __future__ import annotations

from decnet_lib.master.lifecycle import push_hook
from decnet_lib.mutations.reconciler import PushHook


def configured_push_hook() -> PushHook:
    """Push to each topology's own target: this machine's Docker or its agent."""
    return push_hook()
