"""`Idempotency-Key` on a route, in Stripe's style: a retried create or action runs once.

- The same key with the same request (method, path, JSON body by value) gets the first
  response again: same status, body and `ETag`/`Location`, plus `Idempotent-Replayed: true`.
- The same key with a different request gets 422 (`idempotency_key_reused`).
- A repeat that arrives while the first is still running waits for its response (up to
  `storage.once.DUPLICATE_WAIT_SECONDS`), then gets 409 (`idempotency_in_flight`) to retry.
- Keys belong to the caller (a hash of the credential sent) and are kept for
  `AFTERSALES_IDEMPOTENCY_KEY_HOURS` (at least 24 h); expired rows are purged lazily.
- Atomic across workers: the key's row is inserted (unique owner+key) and committed before the
  route runs, so only one request, in any process, gets to run it; its response is stored
  when it succeeds. When it fails (any 4xx/5xx) the row is dropped and a retry runs again, and
  a row left in flight by a killed worker is taken over after `ABANDONED_AFTER`.
- Without the header a route behaves as without this helper.

Use on a route (one line, under the route's decorator, with the same status code):

    from intake_api.idempotency.dependencies import idempotent

    @router.post("", status_code=202, response_model=AlarmAccepted)
    @idempotent(status_code=202)
    async def post_alarm(...) -> AlarmAccepted: ...

The route may return its pydantic model or a `Response` (`json_response(model, headers=...)`
to send headers such as `ETag`); `response_model` still documents the body. `Idempotency.run`
(with `Depends(idempotency)`) is the same without the decorator.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from core.columns import utcnow
from core.database import Sessions, unit_of_work
from core.errors import Conflict, Unprocessable
from intake_api.auth.dependencies import request_sessions
from intake_api.idempotency import service
from intake_api.idempotency.models import IdempotencyKey
from intake_api.services import services
from intake_api.storage.once import first_response, store_first

KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
# Headers of the first response that a replay repeats.
KEPT_HEADERS = ("etag", "location")
# A key still in flight this long after it was taken belongs to a request that died.
ABANDONED_AFTER = timedelta(minutes=2)

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias=KEY_HEADER,
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="A unique key per operation (e.g. a UUID): a retry with the same key and "
        "body gets the first response instead of running again; with another body, 422. "
        "Kept 24 h.",
    ),
]

Outcome = BaseModel | Response


class KeyReused(Unprocessable):
    code = "idempotency_key_reused"


class KeyInFlight(Conflict):
    code = "idempotency_in_flight"


class _ModelResponse(JSONResponse):
    """A JSON response of a pydantic model, serialized by pydantic's core in one step (not to a
    dict first and then through `json.dumps`)."""

    def render(self, content: Any) -> bytes:
        return content.model_dump_json().encode("utf-8")


def json_response(
    model: BaseModel, *, status_code: int = 200, headers: dict[str, str] | None = None
) -> JSONResponse:
    """`model` as the route's JSON answer (all fields, `None` included), with `headers`."""
    return _ModelResponse(model, status_code=status_code, headers=headers)


def _as_response(outcome: Outcome, status_code: int) -> Response:
    if isinstance(outcome, Response):
        return outcome
    return json_response(outcome, status_code=status_code)


def _stored(response: Response) -> dict[str, Any]:
    kept = {name: response.headers[name] for name in KEPT_HEADERS if name in response.headers}
    return {
        "status": response.status_code,
        "body": bytes(response.body).decode("utf-8"),
        "media_type": response.media_type,
        "headers": kept,
    }


def _replayed(stored: dict[str, Any]) -> Response:
    return Response(
        content=stored["body"],
        status_code=stored["status"],
        media_type=stored["media_type"],
        headers={**stored["headers"], REPLAYED_HEADER: "true"},
    )


def _owner(request: Request) -> str:
    """Keys are per caller: a hash of the credential it sent (API key, else the signed-in
    agent's cookies, else a status token); the credential itself is not stored."""
    headers = request.headers
    credential = (
        headers.get("authorization")
        or headers.get("cookie")
        or request.query_params.get("token", "")
    )
    return hashlib.sha256(credential.encode("utf-8")).hexdigest()


class Idempotency:
    """One request's idempotency key (or none): `run` runs the route once per key."""

    def __init__(self, request: Request, key: str | None) -> None:
        self.request = request
        self.key = key
        self.sessions: Sessions = request_sessions(request)
        self.hours = services(request.app).settings.idempotency_key_hours

    async def run(
        self, produce: Callable[[], Awaitable[Outcome]], *, status_code: int = 200
    ) -> Response:
        """The response of `produce()`, made once per key."""
        if self.key is None:
            return _as_response(await produce(), status_code)
        owner = _owner(self.request)
        fingerprint = service.fingerprint(
            self.request.method, self.request.url.path, await self.request.body()
        )
        row_id = await self._take(owner, fingerprint)
        if row_id is None:
            return await self._repeat(owner, fingerprint)
        try:
            response = _as_response(await produce(), status_code)
        except BaseException:
            async with unit_of_work(self.sessions) as session:
                await service.forget(session, row_id=row_id)
            raise
        async with unit_of_work(self.sessions) as session:
            await service.complete(session, row_id=row_id, response=_stored(response))
            await service.purge_expired(session, now=utcnow())
        return response

    async def _take(self, owner: str, fingerprint: str) -> int | None:
        """Insert the key's row (committed); None when the key is taken and still valid."""
        assert self.key is not None
        for _attempt in range(2):
            now = utcnow()
            row = IdempotencyKey(
                owner=owner,
                key=self.key,
                fingerprint=fingerprint,
                created_at=now,
                expires_at=now + timedelta(hours=self.hours),
            )

            def add(session: Any, row: IdempotencyKey = row) -> IdempotencyKey:
                session.add(row)
                return row

            row_id = await store_first(self.sessions, add, busy="the database is busy: retry")
            if row_id is not None or not await self._drop_if_stale(owner):
                return row_id
        return None

    async def _drop_if_stale(self, owner: str) -> bool:
        """Drop the key's row when it expired or its request died in flight; whether it did."""
        async with unit_of_work(self.sessions) as session:
            row = await service.find(session, owner=owner, key=self.key or "")
            now = utcnow()
            stale = row is not None and (
                row.expires_at <= now
                or (row.response is None and row.created_at <= now - ABANDONED_AFTER)
            )
            if row is not None and stale:
                await service.forget(session, row_id=row.id)
        return stale

    async def _repeat(self, owner: str, fingerprint: str) -> Response:
        """The first response to the key, once it is there; 422 for another request."""
        key = self.key or ""
        async with self.sessions() as session:
            row = await service.find(session, owner=owner, key=key)
        if row is not None and row.fingerprint != fingerprint:
            raise KeyReused(
                f"the {KEY_HEADER} {key!r} was used with another request; send a new key "
                "for a new request"
            )

        async def find(session: Any) -> IdempotencyKey | None:
            return await service.find(session, owner=owner, key=key)

        in_flight = KeyInFlight(
            f"a request with the {KEY_HEADER} {key!r} is still in progress; retry shortly"
        )
        stored = await first_response(self.sessions, find, in_flight)
        return _replayed(stored)


async def idempotency(request: Request, key: IdempotencyKeyHeader = None) -> Idempotency:
    """The route's `Idempotency-Key` (optional header), ready to `run` the route once."""
    return Idempotency(request, key)


Endpoint = Callable[..., Awaitable[Any]]


def idempotent(*, status_code: int = 200) -> Callable[[Endpoint], Endpoint]:
    """Decorate a route (below its `@router.post(...)`, with the same `status_code`) so that it
    takes an `Idempotency-Key` and runs once per key."""

    def decorate(endpoint: Endpoint) -> Endpoint:
        # Annotations resolved in the endpoint's module: FastAPI reads the wrapper's signature.
        signature = inspect.signature(endpoint, eval_str=True)
        once = inspect.Parameter(
            "_idempotency",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=Idempotency,
            default=Depends(idempotency),
        )

        @functools.wraps(endpoint)
        async def wrapper(*args: Any, _idempotency: Idempotency, **kwargs: Any) -> Response:
            return await _idempotency.run(
                lambda: endpoint(*args, **kwargs), status_code=status_code
            )

        parameters = [*signature.parameters.values(), once]
        wrapper.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        return wrapper

    return decorate
