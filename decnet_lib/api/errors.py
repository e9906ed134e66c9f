"""One error shape for every 4xx/5xx answer: `{"error": {"code", "message", "issues"?}}`.

`DecnetError.code` decides the status (`STATUS_OF`); request validation errors are 422
`BAD_REQUEST` with one issue per problem; an unexpected exception is a 500 `INTERNAL`
(a bug, never bad input).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from decnet_lib.errors import DecnetError, InvalidTopology
from decnet_lib.issues import Code

log = logging.getLogger(__name__)

STATUS_OF: dict[str, int] = {
    "UNAUTHORIZED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "METHOD_NOT_ALLOWED": 405,
    "ALREADY_EXISTS": 409,
    "REFUSED": 409,
    "INVALID_TRANSITION": 409,
    "DEFINITION_CHANGED": 409,
    "CONFLICT": 409,
    "LAN_IS_HOME": 409,
    "LAN_FROZEN": 409,
    "ALREADY_ATTACHED": 409,
    "TOO_LARGE": 413,
    "TOO_MANY_STREAMS": 429,
    "DB_UNAVAILABLE": 503,
    "SCHEMA_OUTDATED": 503,
    "DOCKER_UNAVAILABLE": 503,
    "AGENT": 503,
    "AGENT_UNREACHABLE": 503,
    "STREAM_SLOTS_UNAVAILABLE": 503,
    "TIMEOUT": 504,
}
UNPROCESSABLE = frozenset({"INVALID_TOPOLOGY", "BAD_PAYLOAD", "BAD_SINCE", "BAD_PARAMETER",
                           "BAD_REQUEST", *(code.value for code in Code)})


class ErrorDetail(BaseModel):
    code: str
    message: str
    issues: list[dict[str, Any]] | None = None


class ErrorBody(BaseModel):
    """Every error answer."""

    error: ErrorDetail


class ApiError(DecnetError):
    """An error only the API raises (authentication, roles, stream cap)."""

    def __init__(self, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message, code)
        self.headers = headers


DESCRIPTIONS = {
    401: "No token, or a token that is malformed, unknown or revoked.",
    403: "A viewer token on a route that changes something.",
    404: "No such topology, decky, LAN or route.",
    409: "Refused in the topology's current state, or the name is taken.",
    413: "The request body is over DECNET_MAX_DOCUMENT_BYTES.",
    422: "The body, path or query does not validate (issues say where).",
    429: "This token already holds as many event streams as allowed.",
    503: "The database, Docker or an agent is unavailable.",
}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route: each error status with the error shape."""
    return {status: {"model": ErrorBody, "description": DESCRIPTIONS[status]}
            for status in statuses}


def status_of(code: str) -> int:
    if code in STATUS_OF:
        return STATUS_OF[code]
    return 422 if code in UNPROCESSABLE else 400


def error_response(status: int, code: str, message: str,
                   issues: list[dict[str, Any]] | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    detail: dict[str, Any] = {"code": code, "message": message}
    if issues is not None:
        detail["issues"] = issues
    return JSONResponse({"error": detail}, status_code=status, headers=headers)


def _issues_of(exc: DecnetError) -> list[dict[str, Any]] | None:
    cause = getattr(exc, "cause", exc)  # OpWouldFail carries the op's own error
    if isinstance(cause, InvalidTopology):
        return [issue.to_dict() for issue in cause.issues]
    return None


async def _decnet_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DecnetError)
    return error_response(status_of(exc.code), exc.code, exc.message, _issues_of(exc),
                          getattr(exc, "headers", None))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    issues = [
        {"severity": "error", "code": "SCHEMA",
         "target": ".".join(str(part) for part in error.get("loc", ())),
         "message": str(error.get("msg", "invalid"))}
        for error in exc.errors()
    ]
    first = issues[0] if issues else {"target": "request", "message": "invalid"}
    return error_response(422, "BAD_REQUEST", f"{first['target']}: {first['message']}",
                          issues)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"
            }.get(exc.status_code, "HTTP_ERROR")
    return error_response(exc.status_code, code, str(exc.detail),
                          headers=getattr(exc, "headers", None))


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    log.warning("database error on %s %s: %s", request.method, request.url.path, exc)
    return error_response(503, "DB_UNAVAILABLE", "the database is unavailable or busy: "
                          "try again")


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(500, "INTERNAL", f"internal error: {type(exc).__name__}")


def install_error_handlers(app: FastAPI) -> None:
    """Map every error to the one shape."""
    app.add_exception_handler(DecnetError, _decnet_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(OperationalError, _database_error)
    app.add_exception_handler(Exception, _unexpected)
