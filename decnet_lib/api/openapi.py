"""The OpenAPI document as the API answers: FastAPI's default 422 (`HTTPValidationError`)
is replaced by the one error shape every error answer has."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from decnet_lib.api.errors import DESCRIPTIONS

DEFAULT_422 = "#/components/schemas/HTTPValidationError"
ERROR_BODY = "#/components/schemas/ErrorBody"


def _one_error_shape(document: dict[str, Any]) -> dict[str, Any]:
    for methods in document.get("paths", {}).values():
        for operation in methods.values():
            answer = operation.get("responses", {}).get("422")
            if answer is None:
                continue
            schema = answer.get("content", {}).get("application/json", {}).get("schema", {})
            if schema.get("$ref") == DEFAULT_422:
                answer["content"]["application/json"]["schema"] = {"$ref": ERROR_BODY}
                answer["description"] = DESCRIPTIONS[422]
    schemas = document.get("components", {}).get("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    return document


def install_openapi(app: FastAPI) -> None:
    """Serve the corrected document (built once)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _one_error_shape(get_openapi(
                title=app.title, version=app.version, description=app.description,
                routes=app.routes))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
