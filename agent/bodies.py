"""Request bodies: read JSON, check the envelope, then the topology (hash, invariants).

Envelope problems (not JSON, not an object, missing or mistyped fields, hash mismatch) are
400s; a topology that is not a valid resolved topology is a 422 carrying every issue.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import orjson
from fastapi import Request
from pydantic import BaseModel, ConfigDict, ValidationError

from agent.errors import AgentProblem, validation_reason
from decnet_lib.issues import Code, Issue, error
from decnet_lib.mutations.invariants import invariant_errors
from decnet_lib.topology.hashing import canonical_hash
from decnet_lib.topology.loader import schema_issues
from decnet_lib.topology.resolved import ResolvedTopology

M = TypeVar("M", bound=BaseModel)
MAX_BODY = 16 * 1024 * 1024
TOPOLOGY_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{7,63}$")


class ApplyBody(BaseModel):
    """`POST /topology/apply`: a resolved topology and its canonical hash."""

    model_config = ConfigDict(strict=True, extra="ignore")

    topology: dict[str, Any]
    hash: str


class TeardownBody(BaseModel):
    """`POST /topology/teardown`: optionally the topology id to tear down."""

    model_config = ConfigDict(strict=True, extra="ignore")

    topology_id: str | None = None


def _too_large() -> AgentProblem:
    return AgentProblem(413, "BODY_TOO_LARGE", f"body is larger than {MAX_BODY} bytes")


async def read_body(request: Request) -> bytes:
    """The body, refused (413) as soon as it passes MAX_BODY: a declared Content-Length
    before reading anything, a chunked body while it streams (never read whole)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise _too_large()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise _too_large()
        chunks.append(chunk)
    return b"".join(chunks)


async def json_object(request: Request, *, required: bool = True) -> dict[str, Any]:
    """The request body as a JSON object (an empty body is `{}` unless `required`)."""
    raw = await read_body(request)
    if not raw.strip():
        if required:
            raise AgentProblem(400, "BAD_REQUEST", "empty body: expected a JSON object")
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise AgentProblem(400, "BAD_REQUEST", f"body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        kind = "null" if data is None else type(data).__name__
        raise AgentProblem(400, "BAD_REQUEST", f"body must be a JSON object, got {kind}")
    return data


def _envelope(model: type[M], data: dict[str, Any]) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        reason = validation_reason(list(exc.errors(include_url=False)))
        raise AgentProblem(400, "BAD_REQUEST", f"bad body: {reason}") from None


async def apply_body(request: Request) -> ApplyBody:
    """Dependency: the parsed body of `POST /topology/apply`."""
    return _envelope(ApplyBody, await json_object(request))


async def teardown_body(request: Request) -> TeardownBody:
    """Dependency: the parsed (optional) body of `POST /topology/teardown`."""
    body = _envelope(TeardownBody, await json_object(request, required=False))
    if body.topology_id is not None:
        check_topology_id(body.topology_id)
    return body


def check_topology_id(topology_id: str) -> str:
    if not TOPOLOGY_ID_RE.match(topology_id):
        raise AgentProblem(400, "BAD_REQUEST", f"invalid topology id {topology_id!r}: "
                           "8-64 letters, digits, '_', '.' or '-'")
    return topology_id


def _invalid(issues: list[Issue]) -> AgentProblem:
    first = issues[0]
    return AgentProblem(
        422, "INVALID_TOPOLOGY",
        f"topology is invalid: {len(issues)} error(s), first: {first.code} "
        f"{first.target}: {first.message}",
        issues=[issue.to_dict() for issue in issues],
    )


def _hash_of(topology: dict[str, Any]) -> str | None:
    try:
        return canonical_hash(topology)
    except (TypeError, ValueError, AttributeError):
        return None


def checked_topology(body: ApplyBody) -> tuple[ResolvedTopology, str]:
    """The validated topology and its (checked) canonical hash, or a 400/422 problem.

    The hash is recomputed over the topology as sent (or as parsed, so a sender that
    leaves out default fields still matches) and must equal the body's.
    """
    try:
        resolved = ResolvedTopology.model_validate(body.topology)
    except ValidationError as exc:
        raise _invalid(schema_issues(exc)) from None
    if not TOPOLOGY_ID_RE.match(resolved.id):
        raise _invalid([error(Code.SCHEMA, "id", "expected 8-64 letters, digits, '_', '.', '-'")])
    parsed = resolved.model_dump(mode="json")
    candidates = {_hash_of(body.topology), canonical_hash(parsed)}
    if body.hash not in candidates:
        raise AgentProblem(
            400, "HASH_MISMATCH",
            f"hash mismatch: the body says {body.hash[:64]!r} but the topology hashes to "
            f"{canonical_hash(parsed)}",
        )
    issues = invariant_errors(resolved)
    if issues:
        raise _invalid(issues)
    return resolved, body.hash
