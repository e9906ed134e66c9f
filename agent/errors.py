"""HTTP problems the agent answers with: a status, a stable code and a one-line reason.

Every error body is `{"detail": "<one line>", "code": "<CODE>", ...extra}`.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from decnet_lib.deploy.failures import DeployError, one_line
from decnet_lib.issues import clip_message


class AgentProblem(Exception):
    """A request the agent refuses or cannot carry out (never a bare 500)."""

    def __init__(self, status: int, code: str, reason: str, **extra: Any) -> None:
        super().__init__(reason)
        self.status = status
        self.code = code
        self.reason = clip_message(" ".join(reason.split()))
        self.extra = extra


def problem_response(status: int, code: str, reason: str, **extra: Any) -> JSONResponse:
    detail = clip_message(" ".join(reason.split()))
    return JSONResponse({"detail": detail, "code": code, **extra},
                        status_code=status)


def validation_reason(errors: list[Any], prefix: str = "") -> str:
    """One line from pydantic/FastAPI validation errors: `field: message; ...`."""
    parts = []
    for err in errors[:5]:
        loc = ".".join(str(part) for part in err.get("loc", ()) if part != "body")
        parts.append(f"{loc or prefix or 'body'}: {err.get('msg', 'invalid')}")
    more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
    return "; ".join(parts) + more


def install_handlers(app: FastAPI) -> None:
    """Map problems, request validation, Docker and unexpected errors to JSON bodies."""

    @app.exception_handler(AgentProblem)
    async def _problem(_: Request, exc: AgentProblem) -> JSONResponse:
        return problem_response(exc.status, exc.code, exc.reason, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return problem_response(400, "BAD_REQUEST", validation_reason(list(exc.errors())))

    @app.exception_handler(DeployError)
    async def _docker(_: Request, exc: DeployError) -> JSONResponse:
        return problem_response(503, "DOCKER_UNAVAILABLE", exc.message)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        return problem_response(500, "INTERNAL", f"internal error: {one_line(exc)}")
