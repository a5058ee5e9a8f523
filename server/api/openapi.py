"""The OpenAPI 3.1 document, built from the same `Endpoint` declarations that serve requests."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from server.api.endpoint import Ctx, Endpoint, endpoint
from server.api.schemas import ErrorBody

_STATUS_TEXT = {400: "Malformed request", 401: "Not authenticated", 403: "Not allowed", 404: "Not found",
                409: "Conflict", 413: "Body too large", 415: "Unsupported media type",
                422: "Validation error", 429: "Rate limited", 503: "Service unavailable"}


def build_openapi(endpoints: list[Endpoint], *, version: str) -> dict[str, Any]:
    models: set[type[BaseModel]] = {ErrorBody}
    for ep in endpoints:
        models.update(m for m in (ep.body, ep.response) if m is not None)
    ordered = sorted(models, key=lambda m: m.__name__)
    keyed = [(m, "validation" if any(m is ep.body for ep in endpoints) else "serialization") for m in ordered]
    refs, defs = models_json_schema(keyed, ref_template="#/components/schemas/{model}")  # type: ignore[arg-type]
    components = defs.get("$defs", {})

    def ref(model: type[BaseModel], mode: str) -> dict[str, Any]:
        return refs[(model, mode)]  # type: ignore[index]

    paths: dict[str, dict[str, Any]] = {}
    for ep in endpoints:
        operation: dict[str, Any] = {
            "operationId": ep.handler.__name__, "summary": ep.summary, "tags": [ep.tag], "responses": {},
        }
        parameters = [
            {"name": name, "in": "path", "required": True,
             "schema": {"type": "string", "format": "uuid"} if conv == "uuid" else {"type": "string"}}
            for name, conv in re.findall(r"\{(\w+)(?::(\w+))?\}", ep.full_path)
        ]
        if ep.query is not None:
            schema = ep.query.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(schema.pop("$defs", {}))
            required = set(schema.get("required", []))
            for name, prop in schema.get("properties", {}).items():
                parameters.append({"name": name, "in": "query", "required": name in required, "schema": prop})
        if parameters:
            operation["parameters"] = parameters
        if ep.body is not None:
            operation["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": ref(ep.body, "validation")}}}
        if ep.form is not None:
            operation["requestBody"] = {"required": True, "content": {
                "multipart/form-data": {"schema": ep.form.model_json_schema()}}}
        ok: dict[str, Any] = {"description": "OK"}
        if ep.response is not None:
            ok["content"] = {"application/json": {"schema": ref(ep.response, "serialization")}}
        operation["responses"][str(ep.status)] = ok
        for status, description in ep.other_statuses.items():
            operation["responses"][str(status)] = {**ok, "description": description}
        errors = set(ep.errors)
        if ep.auth:
            errors.add(401)
            operation["security"] = [{"bearer": []}]
        if ep.roles is not None:
            errors.add(403)
        if ep.body is not None or ep.form is not None:
            errors.update({400, 413, 415, 422})
        if ep.query is not None:
            errors.add(422)
        for status in sorted(errors):
            operation["responses"][str(status)] = {
                "description": _STATUS_TEXT.get(status, "Error"),
                "content": {"application/json": {"schema": ref(ErrorBody, "serialization")}},
            }
        paths.setdefault(ep.template, {})[ep.method.lower()] = operation
    _no_nul(components)
    for item in paths.values():
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                _no_nul(parameter["schema"])
    return {
        "openapi": "3.1.0",
        "info": {"title": "Sparring API", "version": version,
                 "description": "Every error has the shape {\"error\": {\"code\", \"message\", \"details\"}}."},
        "paths": paths,
        "components": {"schemas": components, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
    }


def _no_nul(schema: Any) -> None:
    """Every string input refuses U+0000 (PostgreSQL text cannot hold it); say so in the schema."""
    if isinstance(schema, dict):
        if schema.get("type") == "string" and not {"pattern", "format", "enum", "const"} & schema.keys():
            schema["pattern"] = NO_NUL
        for value in schema.values():
            _no_nul(value)
    elif isinstance(schema, list):
        for value in schema:
            _no_nul(value)


NO_NUL = "^[^\\x00]*$"


def openapi_endpoint(endpoints: list[Endpoint], version: str) -> Endpoint:
    document: dict[str, Any] | None = None

    @endpoint("GET", "/api/openapi.json", summary="This document", tag="meta", auth=False)
    async def openapi(ctx: Ctx) -> dict[str, Any]:
        nonlocal document
        if document is None:
            document = build_openapi(endpoints, version=version)
        return document

    return openapi
