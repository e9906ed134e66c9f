"""Bearer-token authentication and roles, checked before any work is done.

`TokenGate` (ASGI middleware) answers 401 for every `/api/v1` request without a valid token
(except the open health route) and 403 for a viewer on a method that changes something,
before the request body is even read. Routes reach the caller through `current_caller`;
`BEARER` declares the scheme in the OpenAPI document.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request, Security
from fastapi.security import HTTPBearer
from starlette.types import ASGIApp, Receive, Scope, Send

from decnet_lib.api.errors import error_response
from decnet_lib.api.verifier import TokenVerifier
from decnet_lib.master.api_tokens import Caller

API_PREFIX = "/api/v1"
OPEN_PATHS = frozenset({f"{API_PREFIX}/health", f"{API_PREFIX}/openapi.json",
                        f"{API_PREFIX}/docs"})
READ_METHODS = frozenset({"GET", "HEAD"})
BEARER = HTTPBearer(auto_error=False, description="`decnet api token create` prints one.")
CHALLENGE = {"WWW-Authenticate": "Bearer"}


def guarded(path: str) -> bool:
    """Does `path` need a token?"""
    inside = path == API_PREFIX or path.startswith(f"{API_PREFIX}/")
    return inside and path.rstrip("/") not in OPEN_PATHS


def bearer_token(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The token of an `Authorization: Bearer TOKEN` header (None when there is none)."""
    for key, value in headers:
        if key.lower() == b"authorization":
            scheme, _, token = value.decode("latin-1").strip().partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return None


class TokenGate:
    """401 without a valid token, 403 for a viewer changing something (ASGI middleware)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.verifier = TokenVerifier()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not guarded(scope["path"]):
            await self.app(scope, receive, send)
            return
        token = bearer_token(scope["headers"])
        engine = scope["app"].state.engine
        caller = await self.verifier.caller(engine, token) if token else None
        if caller is None:
            reason = "a valid token is required" if token else "no bearer token given"
            response = error_response(401, "UNAUTHORIZED", f"{reason} (Authorization: "
                                      "Bearer TOKEN; `decnet api token create`)",
                                      headers=CHALLENGE)
        elif scope["method"] not in READ_METHODS and not caller.may_change:
            response = error_response(403, "FORBIDDEN", f"token {caller.name!r} is a "
                                      f"{caller.role}: only operators change things")
        else:
            scope.setdefault("state", {})["caller"] = caller
            await self.app(scope, receive, send)
            return
        await response(scope, receive, send)


async def current_caller(request: Request, _: Any = Security(BEARER)) -> Caller:
    """The caller `TokenGate` let through (declares the bearer scheme for OpenAPI; async: no
    worker thread for it)."""
    caller = request.state.caller
    assert isinstance(caller, Caller)
    return caller
