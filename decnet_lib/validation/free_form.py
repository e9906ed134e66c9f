"""Free-form fields (`meta`): plain JSON data, nested at most MAX_FREE_FORM_DEPTH levels.

They are stored, shown and exported as JSON, so a value JSON cannot hold (a YAML timestamp,
binary or set, a non-string key) or a structure too deep to serialise is a SCHEMA issue
here rather than a failure later. The walk is iterative (any depth is safe), stops at the
first problem and visits a shared (aliased) container again only at a greater depth.
"""

from __future__ import annotations

import datetime
from typing import Any

from decnet_lib.issues import Code, Issue, error

MAX_FREE_FORM_DEPTH = 32
_LEAVES = (str, int, float, type(None))  # bool is an int


def _not_json(value: Any) -> str:
    if isinstance(value, datetime.date):  # datetime too
        return f"{type(value).__name__} {value} (a YAML timestamp) is not JSON data; quote it"
    if isinstance(value, bytes | bytearray):
        return "binary data is not JSON data; encode it as a string"
    return f"a value of type {type(value).__name__} is not JSON data"


def free_form_issues(
    value: Any, target: str, max_depth: int = MAX_FREE_FORM_DEPTH
) -> list[Issue]:
    """At most one SCHEMA issue for a free-form value: not JSON data, or nested too deep."""
    deepest: dict[int, int] = {}  # id of a container -> the deepest level it was checked at
    stack: list[tuple[Any, str, int]] = [(value, target, 1)]
    while stack:
        node, path, depth = stack.pop()
        kind = type(node)
        if kind is dict or kind is list:
            if depth > max_depth:
                return [error(Code.SCHEMA, target, f"nests deeper than {max_depth} levels")]
            if deepest.get(id(node), 0) >= depth:
                continue  # already checked with at least as much room
            deepest[id(node)] = depth
            if kind is list:
                stack.extend((item, f"{path}[{index}]", depth + 1)
                             for index, item in reversed(list(enumerate(node))))
                continue
            for key in node:
                if not isinstance(key, str):
                    return [error(Code.SCHEMA, path,
                                  f"key {key!r} is not a string (JSON keys are strings)")]
            stack.extend((item, f"{path}.{key}", depth + 1)
                         for key, item in reversed(node.items()))
        elif not isinstance(node, _LEAVES):
            return [error(Code.SCHEMA, path, _not_json(node))]
    return []
