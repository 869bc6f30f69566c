"""`GET /v1/tickets/{id}/events` (Server-Sent Events) and `/v1/tickets/{id}/ws` (WebSocket).

Both take an API key with `tickets:read`, or `?token=` with the ticket's status token, and send
the ticket's history (after `Last-Event-ID`), then every change live, then keep-alives.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import re
from collections.abc import AsyncIterator

import anyio
from fastapi import APIRouter, Depends, Header, Query, Request, WebSocket
from fastapi.security import HTTPAuthorizationCredentials
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocketDisconnect

from core.errors import ServiceError, Unauthorized
from intake_api.auth.dependencies import bearer, check_scopes, principal_of_key
from intake_api.auth.responses import error_responses
from intake_api.events.stream import IDLE_SECONDS, ticket_events
from intake_api.limits.text import NO_NUL
from intake_api.services import services
from intake_api.tickets import service as tickets

router = APIRouter(prefix="/v1/tickets", tags=["ticket events"])

READ_SCOPE = "tickets:read"
_MAX_SEQ = 2**31 - 1  # sequence numbers are 32-bit integers in the database
_SEQ = re.compile("[0-9]*")


async def authorize_stream(
    app_request: HTTPConnection, *, ticket_id: str, key: str | None, token: str | None
) -> str:
    """The ticket's canonical id once the reader may see it; 401/403 for a missing or wrong key
    or token, 404 for no such ticket."""
    if token is None and not key:
        raise Unauthorized("send an API key (`Authorization: Bearer <key>`) or `?token=`")
    if token is None:
        principal = await principal_of_key(app_request, key or "")
        check_scopes(principal, (READ_SCOPE,))
    async with services(app_request.app).sessions() as session:
        ticket = await tickets.get(session, ticket_id=ticket_id)
    if token is not None and not hmac.compare_digest(token.encode(), ticket.status_token.encode()):
        raise Unauthorized(f"the status token is not the one of ticket {ticket_id}")
    return ticket.public_id


def _after(last_event_id: str | None) -> int:
    if not last_event_id:
        return 0
    if not _SEQ.fullmatch(last_event_id):
        raise ServiceError(f"Last-Event-ID must be an event sequence number, got {last_event_id!r}")
    return min(int(last_event_id), _MAX_SEQ)


@router.get(
    "/{ticket_id}/events",
    response_class=EventSourceResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "change events"},
        **error_responses(400, 401, 403, 404),
    },
)
async def stream_ticket_events(
    ticket_id: str,
    request: Request,
    token: str | None = Query(
        None, max_length=200, pattern=NO_NUL, description="The ticket's status token."
    ),
    last_event_id: str | None = Header(
        None,
        max_length=20,
        json_schema_extra={"pattern": f"^{_SEQ.pattern}$"},  # checked by `_after` (a 400)
        description="The last sequence number seen.",
    ),
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
) -> EventSourceResponse:
    """Each change as `id: <seq>` and `data: {"ticket_id", "status", "at", "note"?, ...}`."""
    ticket_id = await authorize_stream(
        request,
        ticket_id=ticket_id,
        key=credentials.credentials if credentials else None,
        token=token,
    )
    after = _after(last_event_id)

    async def events() -> AsyncIterator[ServerSentEvent]:
        async for payload in ticket_events(
            sessions=services(request.app).sessions,
            bus=services(request.app).event_bus,
            ticket_id=ticket_id,
            after_seq=after,
        ):
            if payload is not None:
                yield ServerSentEvent(data=json.dumps(payload), id=str(payload["seq"]))

    return EventSourceResponse(events(), ping=IDLE_SECONDS)


@router.websocket("/{ticket_id}/ws")
async def ticket_events_socket(
    websocket: WebSocket,
    ticket_id: str,
    token: str | None = Query(None, max_length=200, pattern=NO_NUL),
    api_key: str | None = Query(
        None, max_length=200, pattern=NO_NUL, description="For browsers: no headers."
    ),
    last_event_id: str | None = Query(None, max_length=20, pattern=NO_NUL),
) -> None:
    """The same events as JSON messages; `{"type": "ping"}` when idle."""
    authorization = websocket.headers.get("authorization", "")
    key = api_key or (authorization[7:] if authorization.lower().startswith("bearer ") else None)
    try:
        ticket_id = await authorize_stream(websocket, ticket_id=ticket_id, key=key, token=token)
        after = _after(last_event_id)
    except ServiceError as exc:
        await websocket.close(code=4000 + exc.status_code, reason=exc.message[:120])
        return
    await websocket.accept()

    async def send_events() -> None:
        with contextlib.suppress(WebSocketDisconnect):  # the client left while we were sending
            async for payload in ticket_events(
                sessions=services(websocket.app).sessions,
                bus=services(websocket.app).event_bus,
                ticket_id=ticket_id,
                after_seq=after,
            ):
                await websocket.send_json(payload if payload is not None else {"type": "ping"})

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(send_events)
        while (await websocket.receive())["type"] != "websocket.disconnect":
            pass  # clients need not talk; receiving notices when they leave
        tasks.cancel_scope.cancel()
