"""JSON merge patch (RFC 7386): what `patch` means in update_decky and update_lan."""

from __future__ import annotations

import copy
from typing import Any


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply `patch` to `target` without modifying either; null removes a key."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)  # never share the caller's lists/objects
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result
