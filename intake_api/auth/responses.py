"""The error answers of the intake routes, for the OpenAPI schema (clients and Schemathesis)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

_DESCRIPTIONS = {
    400: "The request cannot be used as sent.",
    401: "No API key, or an unknown or revoked one.",
    403: "The API key lacks a scope, or the status token is not the ticket's.",
    404: "No such item.",
    409: "Not allowed in the item's current state; `detail` says what is.",
    413: "The request body is over the size limit.",
    429: "Over the rate limit; retry after `Retry-After` seconds.",
}


class ErrorBody(BaseModel):
    """Every 4xx of the service: a machine-readable `error`, a readable `message`, details."""

    error: str
    message: str
    detail: dict[str, Any] | None = None


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for the given error status codes."""
    return {code: {"model": ErrorBody, "description": _DESCRIPTIONS[code]} for code in codes}


AUTHENTICATED = error_responses(400, 401, 403, 429)
