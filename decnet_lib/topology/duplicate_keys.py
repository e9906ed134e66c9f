"""Keys written twice in one mapping: found while decoding, reported by validation as
SCHEMA issues (never a silent last-wins). The JSON side is in the loader."""

from __future__ import annotations

from typing import Any

import yaml

from decnet_lib.topology.yaml_nodes import children, one_line

_SCALAR = yaml.ScalarNode
_MERGE = "tag:yaml.org,2002:merge"


class WithDuplicateKeys(dict):  # type: ignore[type-arg]
    """A decoded mapping whose source used keys twice in one mapping (the last value won):
    validation reports each as a SCHEMA issue instead of storing a silent choice."""

    duplicate_keys: list[str]


def with_duplicates(data: Any, duplicates: list[str]) -> Any:
    """`data`, marked with the duplicate keys found while decoding it (if any)."""
    if not duplicates or not isinstance(data, dict):
        return data
    marked = WithDuplicateKeys(data)
    marked.duplicate_keys = duplicates
    return marked


def key_text(node: Any) -> str:
    """A key node as an issue names it: its text and line."""
    mark = getattr(node, "start_mark", None)
    where = f" (line {mark.line + 1})" if mark else ""
    return f"{one_line(str(node.value), 80)!r}{where}"


def duplicate_keys_of(root: Any) -> list[str]:
    """Scalar keys used twice in one mapping of a node graph (iterative; merge keys aside)."""
    found: list[str] = []
    seen_nodes: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if node is None or type(node) is _SCALAR or id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            keys: set[tuple[str, str]] = set()
            for key_node, _value in node.value:
                if type(key_node) is _SCALAR and key_node.tag != _MERGE:
                    if (key_node.tag, key_node.value) in keys:
                        found.append(key_text(key_node))
                    keys.add((key_node.tag, key_node.value))
        stack.extend(children(node))
    return found
