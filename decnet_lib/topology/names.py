"""The one rule for user-chosen names (topologies, LANs, deckies)."""

from __future__ import annotations

import re

NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
NAME_RULE = "lowercase letters, digits and '-', 1-32 characters, starting with a letter"


def is_valid_name(name: object) -> bool:
    """True when `name` is a string that follows the naming rule."""
    return isinstance(name, str) and NAME_RE.fullmatch(name) is not None
