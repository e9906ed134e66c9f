"""Small helpers over PyYAML's node graph and messages, shared by the YAML safety checks."""

from __future__ import annotations

from typing import Any

import yaml


def one_line(text: str, limit: int = 300) -> str:
    """Collapse whitespace (newlines included) and shorten an error message."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def children(node: Any) -> list[Any]:
    """The nodes directly inside a collection node (keys and values of a mapping)."""
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return list(node.value)
