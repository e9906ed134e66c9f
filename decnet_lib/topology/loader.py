"""Read a topology file (YAML or JSON) and parse it into a typed document."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import yaml
from pydantic import ValidationError

from decnet_lib.errors import DecnetError
from decnet_lib.topology.document import TopologyDoc
from decnet_lib.validation.issues import Code, Issue, error

DEFAULT_MAX_DOCUMENT_BYTES = 64 * 1024 * 1024
_BASE_LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = frozenset(_TAG + t for t in ("null", "bool", "int", "float", "binary", "timestamp"))
_STR = _TAG + "str"
_SCALAR, _SEQUENCE, _MAPPING = yaml.ScalarNode, yaml.SequenceNode, yaml.MappingNode
_IN_PROGRESS = object()


class _Fallback(Exception):
    """The fast constructor met something only the standard one handles."""


class _FastSafeLoader(_BASE_LOADER):  # type: ignore[misc, valid-type]
    """The safe loader with a direct constructor.

    Plain documents (maps, sequences, scalars, aliases) are built in one recursive pass;
    anything else (merge keys, recursion, other tags, errors) is handed to the standard
    constructor from scratch, so the result and every error are those of the safe loader.
    """

    def construct_document(self, node: Any) -> Any:
        try:
            data = self._build(node, {})
            if self.state_generators:
                raise _Fallback
        except Exception:  # the standard constructor decides what the error is
            self.constructed_objects, self.recursive_objects = {}, {}
            self.state_generators, self.deep_construct = [], False
            return super().construct_document(node)
        self.constructed_objects, self.recursive_objects = {}, {}
        return data

    def _build(self, node: Any, memo: dict[Any, Any]) -> Any:
        if type(node) is _SCALAR:
            if node.tag == _STR:
                return node.value
            if node.tag in _SCALAR_TAGS:
                return self.construct_object(node)
            raise _Fallback
        done = memo.get(node)
        if done is _IN_PROGRESS:
            raise _Fallback  # a recursive structure
        if done is not None:
            return done  # an alias of a node already built
        memo[node] = _IN_PROGRESS
        if type(node) is _SEQUENCE and node.tag == _TAG + "seq":
            data: Any = [self._build(child, memo) for child in node.value]
        elif type(node) is _MAPPING and node.tag == _TAG + "map":
            data = self._build_map(node, memo)
        else:
            raise _Fallback
        memo[node] = data
        return data

    def _build_map(self, node: Any, memo: dict[Any, Any]) -> dict[Any, Any]:
        data: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if type(key_node) is _SCALAR and key_node.tag == _STR:
                key = key_node.value  # the common case, inlined
            elif key_node.tag in (_TAG + "merge", _TAG + "value"):
                raise _Fallback
            else:
                key = self._build(key_node, memo)
                try:
                    hash(key)
                except TypeError:
                    raise _Fallback from None
            if type(value_node) is _SCALAR and value_node.tag == _STR:
                data[key] = value_node.value
            else:
                data[key] = self._build(value_node, memo)
        return data


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while building a large acyclic tree (it would rescan it often).

    Nests safely: only the outermost pause turns the collector back on.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class DocumentUnreadable(DecnetError):
    """The file cannot be read or is not YAML/JSON at all (CLI exit code 2)."""

    code = "UNREADABLE"
    exit_code = 2


def max_document_bytes() -> int:
    """Size limit for topology files, from DECNET_MAX_DOCUMENT_BYTES."""
    raw = os.environ.get("DECNET_MAX_DOCUMENT_BYTES")
    return int(raw) if raw and raw.isdigit() else DEFAULT_MAX_DOCUMENT_BYTES


def read_document_data(path: str | Path) -> Any:
    """Read and decode a topology file into plain data; raise DocumentUnreadable."""
    path = Path(path)
    limit = max_document_bytes()
    try:
        with path.open("rb") as handle:
            raw = handle.read(limit + 1)
    except OSError as exc:
        raise DocumentUnreadable(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(raw) > limit:
        raise DocumentUnreadable(f"{path} is larger than the limit of {limit} bytes")
    return decode_document(raw, source=str(path))


def decode_document(raw: bytes, source: str = "<input>") -> Any:
    """Decode JSON (when it looks like JSON) or YAML bytes; raise DocumentUnreadable."""
    stripped = raw.lstrip()
    if stripped[:1] in (b"{", b"["):
        try:
            with gc_paused():
                return orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise DocumentUnreadable(f"{source} is not valid JSON: {exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise DocumentUnreadable(f"{source} is not UTF-8 text") from None
    try:
        with gc_paused():
            return yaml.load(text, Loader=_FastSafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise DocumentUnreadable(f"{source} is not valid YAML{where}: {problem}") from None


def _loc_to_target(loc: tuple[Any, ...]) -> str:
    target = ""
    for part in loc:
        if isinstance(part, int):
            target += f"[{part}]"
        else:
            target += f".{part}" if target else str(part)
    return target or "document"


def schema_issues(exc: ValidationError) -> list[Issue]:
    """Turn pydantic's errors into SCHEMA issues naming the field."""
    issues = []
    for err in exc.errors(include_url=False):
        loc = tuple(p for p in err["loc"] if p not in ("str", "none", "function-after"))
        target = _loc_to_target(loc)
        if err["type"] == "extra_forbidden":
            message = f"unknown field '{loc[-1]}'" if loc else "unknown field"
        else:
            message = err["msg"]
        issues.append(error(Code.SCHEMA, target, message))
    # one issue per field: a union type reports each alternative separately
    unique = {(i.target, i.message): i for i in issues}
    return list(unique.values())


def parse_document(data: Any) -> tuple[TopologyDoc | None, list[Issue]]:
    """Parse decoded data into a TopologyDoc, or return SCHEMA issues."""
    if not isinstance(data, dict):
        kind = "empty" if data is None else type(data).__name__
        return None, [error(Code.SCHEMA, "document", f"expected a mapping, got {kind}")]
    try:
        return TopologyDoc.model_validate(data), []
    except ValidationError as exc:
        return None, schema_issues(exc)
