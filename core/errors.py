"""Typed service errors and the handlers that give every error answer one JSON shape.

Every 4xx the service sends is `{"error": <machine-readable code>, "message": <readable text>,
"detail"?: {...}}` (`ErrorBody`): the service's own errors (`ServiceError` subclasses), request
validation (422, `detail.errors` lists what is wrong where), bodies that are not JSON (400) or
not sent as JSON (415), unknown paths (404) and methods a path does not take (405, with an
`Allow` header naming every method the path does take).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


class ErrorBody(BaseModel):
    """Every 4xx of the service: a machine-readable `error`, a readable `message`, details."""

    error: str
    message: str
    detail: dict[str, Any] | None = None


ERROR_DESCRIPTIONS = {
    400: "The request cannot be used as sent.",
    401: "No API key, or an unknown or revoked one.",
    403: "The API key lacks a scope, or the status token is not the ticket's.",
    404: "No such item.",
    409: "Not allowed in the item's current state; `detail` says what is.",
    412: "`If-Match` names an older version: `detail` holds the current one; nothing changed.",
    413: "The request body is over the size limit.",
    415: "The body was not sent as JSON (`Content-Type: application/json`).",
    422: "The request does not validate; `detail.errors` says where and why.",
    429: "Over the rate limit; retry after `Retry-After` seconds.",
    503: "The database stayed busy (or the first of a duplicate is still running); retry.",
}


def error_responses(
    *codes: int, wording: dict[int, str] | None = None
) -> dict[int | str, dict[str, Any]]:
    """FastAPI `responses` entries (OpenAPI) for `codes`, in the `ErrorBody` shape; `wording`
    replaces the general description of a code for one route."""
    described = ERROR_DESCRIPTIONS | (wording or {})
    # JSON whatever the route's own media type (a text/plain route's errors are JSON too).
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    return {
        code: {"model": ErrorBody, "description": described[code], "content": content}
        for code in codes
    }


class ServiceError(Exception):
    """An error a caller can act on; `status_code` and `code` say which, `headers` go along."""

    status_code = 400
    code = "bad_request"

    def __init__(
        self, message: str, *, headers: dict[str, str] | None = None, **detail: object
    ) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers
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


class PreconditionFailed(ServiceError):
    """An `If-Match` that names an older version: someone changed the item meanwhile."""

    status_code = 412
    code = "precondition_failed"


class PayloadTooLarge(ServiceError):
    status_code = 413
    code = "payload_too_large"


class UnsupportedMediaType(ServiceError):
    status_code = 415
    code = "unsupported_media_type"


class Unprocessable(ServiceError):
    """Well-formed but unusable as sent (e.g. `from` after `to`, a reused idempotency key)."""

    status_code = 422
    code = "validation_error"


class RateLimited(ServiceError):
    status_code = 429
    code = "rate_limited"


def error_response(
    status_code: int,
    code: str,
    message: str,
    detail: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """An `ErrorBody` answer (the one place that builds it)."""
    body: dict[str, Any] = {"error": code, "message": message}
    if detail:
        body["detail"] = jsonable_encoder(detail)
    return JSONResponse(status_code=status_code, content=body, headers=headers)


async def _service_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)
    return error_response(exc.status_code, exc.code, exc.message, exc.detail, exc.headers)


def _is_json(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def _not_sent_as_json(request: Request, errors: list[dict[str, Any]]) -> bool:
    """The body was refused as a whole because it did not come as JSON (FastAPI reads a body
    with another or no Content-Type as raw bytes, which then fail as the wrong type)."""
    whole_body = any(tuple(error.get("loc", ())) == ("body",) for error in errors)
    return whole_body and not _is_json(request.headers.get("content-type"))


def _where(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "request"


async def _validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": list(error.get("loc", ())), "msg": error.get("msg", ""), "type": error["type"]}
        for error in exc.errors()
    ]
    if _not_sent_as_json(request, errors):
        return error_response(
            415,
            UnsupportedMediaType.code,
            "send the body as JSON with `Content-Type: application/json`",
            {"content_type": request.headers.get("content-type")},
        )
    message = "; ".join(f"{_where(tuple(e['loc']))}: {e['msg']}" for e in errors[:5])
    return error_response(422, Unprocessable.code, message, {"errors": errors})


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app takes at the request's path (the `Allow` of a 405)."""
    routes = request.app.router.routes
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    ]


def _snake(status_code: int) -> str:
    try:
        return HTTPStatus(status_code).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "error"


async def _http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request))
    message = exc.detail if isinstance(exc.detail, str) else _snake(exc.status_code)
    if exc.status_code == 400 and message == "There was an error parsing the body":
        message = "the request body could not be read as JSON (is it UTF-8 encoded JSON?)"
    return error_response(exc.status_code, _snake(exc.status_code), message, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Give every error answer the `ErrorBody` shape: service errors, validation errors, and
    the framework's own 400/404/405."""
    app.add_exception_handler(ServiceError, _service_error_handler)
    app.add_exception_handler(RequestValidationError, _validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, _http_error_handler)
