"""The error answers of the intake routes, for the OpenAPI schema (clients and Schemathesis)."""

from __future__ import annotations

from core.errors import ERROR_DESCRIPTIONS, ErrorBody, error_responses

__all__ = ["AUTHENTICATED", "ERROR_DESCRIPTIONS", "ErrorBody", "error_responses"]

AUTHENTICATED = error_responses(400, 401, 403, 429)
