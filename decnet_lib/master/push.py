"""Where the reconciler sends a live topology's new resolved form after mutations."""

from __future__ import annotations

from decnet_lib.mutations.reconciler import PushHook


def configured_push_hook() -> PushHook | None:
    """The push hook from configuration; None until a deployment target is configured."""
    return None
