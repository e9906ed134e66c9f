"""Read a topology file (YAML or JSON) and parse it into a typed document.

Decoding refuses, with DocumentUnreadable (one line, naming the file), anything the YAML or
JSON layer cannot turn into plain acyclic data of a bounded size:

- nesting deeper than MAX_NESTING collections: one limit and one message on every path
  (JSON; YAML through the C builder or PyYAML, whatever libyaml PyYAML bundles), checked
  for YAML before libyaml's recursive composer could overflow the C stack;
- a YAML alias that refers to one of its own ancestors (a recursive structure);
- YAML aliases that expand the document by more than max(DEFAULT_MAX_ALIAS_NODES, the
  document's length in bytes) nodes (a "billion laughs" alias bomb): every use of an alias
  counts the nodes of the expanded subtree it stands for;
- any other exception of the decoders (an impossible date such as 2001-13-45, ...).

Valid YAML scalars that are not JSON types (timestamps, binary, ...) are kept as they are, so
that they give SCHEMA issues where they land in a typed field.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import orjson
import yaml
from pydantic import ValidationError

from decnet_lib.errors import DecnetError
from decnet_lib.issues import Code, Issue, error
from decnet_lib.settings import DEFAULT_MAX_DOCUMENT_BYTES as DEFAULT_MAX_DOCUMENT_BYTES
from decnet_lib.settings import get_settings
from decnet_lib.topology.document import TopologyDoc
from decnet_lib.topology.safe_yaml import (
    MAX_NESTING,
    TOO_DEEP,
    YamlRefused,
    alias_node_limit,
    check_data_depth,
    gc_paused,
    one_line,
    with_duplicates,
)
from decnet_lib.topology.yaml_load import fast_path_status, load_yaml


class DocumentUnreadable(DecnetError):
    """The file cannot be read or is not YAML/JSON at all (CLI exit code 2)."""

    code = "UNREADABLE"
    exit_code = 2


def max_document_bytes() -> int:
    """Size limit for topology files, from DECNET_MAX_DOCUMENT_BYTES (the settings)."""
    return get_settings().max_document_bytes


def read_document_data(path: str | Path, max_bytes: int | None = None) -> Any:
    """Read and decode a topology file into plain data; raise DocumentUnreadable.

    `max_bytes`: the size limit (default: the settings' `max_document_bytes`).
    """
    path = Path(path)
    limit = max_bytes if max_bytes is not None else max_document_bytes()
    try:
        with path.open("rb") as handle:
            raw = handle.read(limit + 1)
    except OSError as exc:
        raise DocumentUnreadable(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:  # e.g. a NUL byte in the path
        raise DocumentUnreadable(f"cannot read {path}: {one_line(str(exc))}") from None
    if len(raw) > limit:
        raise DocumentUnreadable(f"{path} is larger than the limit of {limit} bytes")
    return decode_document(raw, source=str(path))


_QUICK_PASSES = 32
_AS_OPEN_CLOSE = bytes.maketrans(b"[{]}", b"(())")
_NOT_STRUCTURE = bytes(range(256)).translate(None, b'[]{}"')


def _json_shallow(raw: bytes) -> bool:
    """Does valid JSON nest at most _QUICK_PASSES (< MAX_NESTING) levels? (False: walk it.)

    Escapes are removed so that quotes delimit strings, the strings are dropped, and the
    innermost bracket pairs are removed once per level: a few passes at C speed.
    """
    if raw.count(b"[") + raw.count(b"{") <= MAX_NESTING:
        return True
    if b"\\" in raw:
        raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    text = raw.translate(None, _NOT_STRUCTURE)
    # quotes alternate open/close: dropping adjacent pairs drops strings without brackets
    # (or merges two strings), leaving what lies outside strings as it was
    text = text.replace(b'""', b"")
    if b'"' in text:
        text = b"".join(text.split(b'"')[::2])
    brackets = text.translate(_AS_OPEN_CLOSE)
    for _ in range(_QUICK_PASSES):
        if not brackets:
            return True
        brackets = brackets.replace(b"()", b"")
    return not brackets


_SPACED_KEY_END = re.compile(rb'"[ \t\r\n]+:')


def _json_key_count(text: bytes) -> int:
    """How many object keys a JSON text holds: an unescaped quote followed by a colon ends
    one, and nothing else (inside a string a quote is always escaped)."""
    escaped = 0
    if b"\\" in text:
        text = text.replace(b"\\\\", b"")
        escaped = text.count(b'\\":')
    spaced = sum(1 for m in _SPACED_KEY_END.finditer(text)
                 if m.start() == 0 or text[m.start() - 1] != 0x5C)
    return text.count(b'":') - escaped + spaced


def _count_keys(data: Any) -> int:
    """Keys of every object in decoded JSON (iterative)."""
    count, stack = 0, [data]
    while stack:
        value = stack.pop()
        if type(value) is dict:
            count += len(value)
            stack.extend(value.values())
        elif type(value) is list:
            stack.extend(value)
    return count


def _json_duplicate_keys(raw: bytes, data: Any) -> list[str]:
    """Keys a JSON document uses twice in one object (orjson keeps the last silently).

    The keys of the text and of the decoded data are counted at C speed; only when they
    differ is the text decoded again, slowly, to name the duplicates.
    """
    try:
        decoded = _json_key_count(orjson.dumps(data))
    except TypeError:  # deeper than orjson writes (255 levels): count them by walking
        decoded = _count_keys(data)
    if _json_key_count(raw) == decoded:
        return []
    found: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: set[str] = set()
        for key, _value in items:
            if key in seen:
                found.append(repr(one_line(key, 80)))
            seen.add(key)
        return dict(items)

    json.loads(raw, object_pairs_hook=pairs)
    return found


def _looks_like_json(raw: bytes) -> bool:
    return raw.lstrip()[:1] in (b"{", b"[")


def loader_for(path: str | Path) -> tuple[str, str]:
    """Which loader reads this file: ("json" | "yaml-c" | "yaml-pyyaml", why the C YAML
    builder stands aside, "" when it does not). Reads only the file's first bytes."""
    try:
        with Path(path).open("rb") as handle:
            head = handle.read(4096)
    except (OSError, ValueError):
        return "unreadable", ""
    if _looks_like_json(head):
        return "json", ""
    status = fast_path_status()
    return ("yaml-c", "") if status["fast"] else ("yaml-pyyaml", str(status["reason"]))


def _describe(exc: BaseException) -> str:
    text = one_line(str(exc))
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def decode_document(raw: bytes, source: str = "<input>") -> Any:
    """Decode JSON (when it looks like JSON) or YAML bytes into plain, acyclic data.

    Every failure, whatever the YAML/JSON layer raised, is a one-line DocumentUnreadable
    naming `source`.
    """
    if _looks_like_json(raw):
        try:
            with gc_paused():
                data = orjson.loads(raw)
            if not _json_shallow(raw):
                check_data_depth(data)
            return with_duplicates(data, _json_duplicate_keys(raw, data))
        except YamlRefused as exc:
            message = f"{source} {exc}"
        except orjson.JSONDecodeError as exc:
            if str(exc).startswith("depth limit"):  # orjson's own limit, above ours
                raise DocumentUnreadable(f"{source} {TOO_DEEP}") from None
            message = f"{source} is not valid JSON: {one_line(str(exc))}"
        except Exception as exc:  # anything else the JSON layer raised: never a traceback
            message = f"{source} cannot be decoded as JSON: {_describe(exc)}"
        raise DocumentUnreadable(message)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise DocumentUnreadable(f"{source} is not UTF-8 text") from None
    try:
        with gc_paused():
            return load_yaml(text, alias_node_limit(len(raw)))
    except YamlRefused as exc:
        raise DocumentUnreadable(f"{source} {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = one_line(getattr(exc, "problem", None) or "syntax error")
        raise DocumentUnreadable(f"{source} is not valid YAML{where}: {problem}") from None
    except Exception as exc:  # anything else the YAML layer raised: never a traceback
        message = f"{source} cannot be decoded as YAML: {_describe(exc)}"
        raise DocumentUnreadable(message) from None


def _loc_to_target(loc: tuple[Any, ...]) -> str:
    target = ""
    for part in loc:
        if isinstance(part, int):
            target += f"[{part}]"
        else:
            target += f".{part}" if target else str(part)
    return target or "document"


_SCALAR_BRANCHES = frozenset({"str", "none", "bool", "int", "float"})
_UNION_BRANCHES = _SCALAR_BRANCHES | {"function-after", "ExposeDoc", "ResourcesDoc"}


def _said_deeper(loc: tuple[Any, ...], errors: list[Any]) -> bool:
    """Does another error of the same field point inside it (a union's other branch)?"""
    prefix = loc[:-1]
    return any(len(e["loc"]) > len(loc) and tuple(e["loc"][:len(prefix)]) == prefix
               for e in errors)


def schema_issues(exc: ValidationError) -> list[Issue]:
    """Turn pydantic's errors into SCHEMA issues naming the field."""
    errors = exc.errors(include_url=False)
    issues = []
    for err in errors:
        raw = tuple(err["loc"])
        if raw and raw[-1] in _SCALAR_BRANCHES and _said_deeper(raw, errors):
            continue  # a union's scalar branch, when its structured branch says more
        loc = tuple(p for p in raw if p not in _UNION_BRANCHES)
        target = _loc_to_target(loc)
        if err["type"] == "extra_forbidden":
            message = f"unknown field '{loc[-1]}'" if loc else "unknown field"
        else:
            message = err["msg"]
        issues.append(error(Code.SCHEMA, target, message))
    # one issue per field: a union type reports each alternative separately
    unique: dict[str, Issue] = {}
    for issue in issues:
        unique.setdefault(issue.target, issue)
    return list(unique.values())


def parse_document(data: Any) -> tuple[TopologyDoc | None, list[Issue]]:
    """Parse decoded data into a TopologyDoc, or return SCHEMA issues."""
    if not isinstance(data, dict):
        kind = "empty" if data is None else type(data).__name__
        return None, [error(Code.SCHEMA, "document", f"expected a mapping, got {kind}")]
    duplicates = [error(Code.SCHEMA, "document", f"key {key} is used twice in one mapping "
                        "(the document must say each key once)")
                  for key in getattr(data, "duplicate_keys", ())]
    try:
        return TopologyDoc.model_validate(data), duplicates
    except ValidationError as exc:
        return None, duplicates + schema_issues(exc)
