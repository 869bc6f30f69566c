"""Typed service errors and the handlers that turn them into clear 4xx answers."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


class ServiceError(Exception):
    """An error a caller can act on; `status_code` and `code` say which."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, **detail: object) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class NotFound(ServiceError):
    status_code = 404
    code = "not_found"


class Conflict(ServiceError):
    status_code = 409
    code = "conflict"


class Unauthorized(ServiceError):
    status_code = 401
    code = "unauthorized"


class Forbidden(ServiceError):
    status_code = 403
    code = "forbidden"


class PayloadTooLarge(ServiceError):
    status_code = 413
    code = "payload_too_large"


class RateLimited(ServiceError):
    status_code = 429
    code = "rate_limited"


async def _service_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)
    body: dict[str, object] = {"error": exc.code, "message": exc.message}
    if exc.detail:
        body["detail"] = exc.detail
    return JSONResponse(status_code=exc.status_code, content=body)


def install_error_handlers(app: FastAPI) -> None:
    """Map `ServiceError` subclasses to JSON answers with their status code."""
    app.add_exception_handler(ServiceError, _service_error_handler)
