"""The agent's OpenAPI document: the apply body's schema (a resolved topology and its hash)
and every problem answer, declared for clients and for schema-driven testing."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field

from decnet_lib.topology.resolved import ResolvedTopology

REF = "#/components/schemas/{model}"


class Problem(BaseModel):
    """Every error answer: a stable code and a one-line reason (plus `issues` on 422)."""

    detail: str = Field(description="One line, at most 1,000 characters.")
    code: str = Field(description="Stable code, e.g. BAD_REQUEST, INVALID_TOPOLOGY.")
    issues: list[dict[str, str]] | None = Field(
        default=None, description="Validation issues {severity, code, message, target}.")


class ApplyRequest(BaseModel):
    """`POST /topology/apply`: a resolved topology and its canonical hash."""

    topology: ResolvedTopology
    hash: str = Field(description="SHA-256 canonical hash of the topology (64 hex digits).")


def problem(description: str) -> dict[str, Any]:
    """One declared error answer."""
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": REF.format(model="Problem")}}}}


APPLY_BODY = {"required": True, "content": {"application/json": {
    "schema": {"$ref": REF.format(model="ApplyRequest")}}}}


def install_openapi(app: FastAPI) -> None:
    """Generate the document once, with the models above among its components."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, routes=app.routes)
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            for model in (ApplyRequest, Problem):
                schema = model.model_json_schema(ref_template=REF)
                schemas.update(schema.pop("$defs", {}))
                schemas[model.__name__] = schema
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
