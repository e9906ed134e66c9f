"""Read a topology file (YAML or JSON) and parse it into a typed document."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
import yaml
from pydantic import ValidationError

from decnet_lib.topology.document import TopologyDoc
from decnet_lib.validation.issues import Code, Issue, error

DEFAULT_MAX_DOCUMENT_BYTES = 64 * 1024 * 1024
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class DocumentUnreadable(Exception):
    """The file cannot be read or is not YAML/JSON at all (CLI exit code 2)."""


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
            return orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise DocumentUnreadable(f"{source} is not valid JSON: {exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise DocumentUnreadable(f"{source} is not UTF-8 text") from None
    try:
        return yaml.load(text, Loader=_YAML_LOADER)  # noqa: S506 - safe loader
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
