"""The OpenAPI document as integrators read it: the error answers every operation can give,
and parameters that are either absent or a value.

Routes document their own errors (404, 409, 412, ...) with `error_responses` from
`intake_api.auth.responses`. What follows from an operation's shape is added here, once, so no
route can forget it: an operation with a security requirement can answer 401, 403 and 429; one
with a request body 400 (unreadable JSON), 413 (too large), 415 (not sent as JSON) and 422; one
with parameters 422. Every 422 is the service's `ErrorBody`, not FastAPI's `HTTPValidationError`
(`core.errors` answers validation errors in that shape).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI

from core.errors import ErrorBody
from intake_api.auth.responses import ERROR_DESCRIPTIONS

ERROR_SCHEMA = {"$ref": "#/components/schemas/ErrorBody"}
_FASTAPI_VALIDATION = ("HTTPValidationError", "ValidationError")
_AUTH_CODES = (401, 403, 429)
_BODY_CODES = (400, 413, 415, 422)


def _error_entry(code: int) -> dict[str, Any]:
    return {
        "description": ERROR_DESCRIPTIONS[code],
        "content": {"application/json": {"schema": ERROR_SCHEMA}},
    }


def _implied_codes(operation: dict[str, Any]) -> set[int]:
    """The error codes an operation can answer because of its shape."""
    codes: set[int] = set()
    if operation.get("security"):
        codes.update(_AUTH_CODES)
    if "requestBody" in operation:
        codes.update(_BODY_CODES)
    if operation.get("parameters"):
        codes.add(422)
    return codes


def _is_fastapi_validation(entry: dict[str, Any]) -> bool:
    schema = entry.get("content", {}).get("application/json", {}).get("schema", {})
    return schema.get("$ref") == f"#/components/schemas/{_FASTAPI_VALIDATION[0]}"


def _without_null(parameter: dict[str, Any]) -> None:
    """A parameter is absent or a value, never null (a header or query string has no null):
    `anyOf: [X, null]` becomes X, so clients and fuzzers do not send the text "null"."""
    schema = parameter.get("schema", {})
    options = schema.get("anyOf", [])
    values = [option for option in options if option.get("type") != "null"]
    if len(options) == 2 and len(values) == 1:
        del schema["anyOf"]
        parameter["schema"] = {**values[0], **schema}


def document_errors(document: dict[str, Any]) -> None:
    """Add the implied error answers to every operation of `document` (in place)."""
    for item in document.get("paths", {}).values():
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                _without_null(parameter)
            responses = operation.setdefault("responses", {})
            for code in sorted(_implied_codes(operation)):
                responses.setdefault(str(code), _error_entry(code))
            if "422" in responses and _is_fastapi_validation(responses["422"]):
                responses["422"] = _error_entry(422)
    for item in document.get("webhooks", {}).values():
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                _without_null(parameter)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("ErrorBody", ErrorBody.model_json_schema())
    for name in _FASTAPI_VALIDATION:  # HTTPValidationError first: it refers to the other
        if f'"#/components/schemas/{name}"' not in json.dumps(document):
            schemas.pop(name, None)


def install_openapi(app: FastAPI) -> None:
    """Generate `app`'s document once, with the implied errors."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document_errors(generate())
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]
