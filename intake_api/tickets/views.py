"""Ticket routes: create (triaged, idempotent), list with filters, read (with an `ETag`),
move/assign/note (with `If-Match`, so two agents never overwrite each other unseen)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from bot.triage.policy import Category, Priority
from core.database import unit_of_work
from intake_api.auth.dependencies import request_sessions, require_scopes
from intake_api.auth.models import Principal
from intake_api.auth.responses import AUTHENTICATED, error_responses
from intake_api.events.stream import publish_committed
from intake_api.idempotency.dependencies import idempotent, json_response
from intake_api.limits.dependencies import check_sender_rate
from intake_api.limits.text import NO_NUL
from intake_api.pagination import PageRequest, paging
from intake_api.services import services
from intake_api.tickets import service
from intake_api.tickets.models import (
    NoteCreate,
    Ticket,
    TicketCreate,
    TicketEventRead,
    TicketPage,
    TicketRead,
    TicketStatus,
    TicketUpdate,
)


@asynccontextmanager
async def ticket_change(request: Request) -> AsyncIterator[AsyncSession]:
    """The unit of work of one ticket change. On SQLite this process's changes queue on a lock:
    SQLite's own busy handler sleeps and retries, which gives long tail latencies."""
    lock = services(request.app).ticket_write_lock
    async with lock or nullcontext(), unit_of_work(request_sessions(request)) as session:
        yield session


router = APIRouter(prefix="/v1/tickets", tags=["tickets"], responses=AUTHENTICATED)
reader = require_scopes("tickets:read")
writer = require_scopes("tickets:write")

# An ETag as sent (`"3"`), or its bare version (`3`), which some HTTP clients send unquoted.
IF_MATCH = r'^(\*|[0-9]{1,9}|"[0-9]{1,9}")$'
IfMatchHeader = Annotated[
    str | None,
    Header(
        alias="If-Match",
        pattern=IF_MATCH,
        description='The `ETag` you read (e.g. `"3"`): the change is made only if the ticket '
        "is still at that version, else 412 with the current one. Without it the change is "
        "made whatever the version.",
    ),
]
ETAG_HEADER = {
    "ETag": {"description": "The ticket's version, quoted.", "schema": {"type": "string"}}
}
_ONE_TICKET = "#/paths/~1v1~1tickets~1{ticket_id}"
_ID = "$response.body#/id"
# OpenAPI links: what a created ticket's id (and ETag) can be used for next (clients, fuzzers).
CREATED_LINKS = {
    "GetTicket": {"operationRef": f"{_ONE_TICKET}/get", "parameters": {"ticket_id": _ID}},
    "UpdateTicket": {
        "operationRef": f"{_ONE_TICKET}/patch",
        "parameters": {"ticket_id": _ID, "header.If-Match": "$response.header.ETag"},
    },
    "TicketHistory": {
        "operationRef": f"{_ONE_TICKET}~1history/get",
        "parameters": {"ticket_id": _ID},
    },
    "AddNote": {"operationRef": f"{_ONE_TICKET}~1notes/post", "parameters": {"ticket_id": _ID}},
    "ResolveTicket": {
        "operationRef": "#/paths/~1v1~1agent~1tickets~1{ticket_id}~1resolve/post",
        "parameters": {"ticket_id": _ID},
    },
    "ClaimTicket": {
        "operationRef": "#/paths/~1v1~1agent~1queue~1{item_id}~1claim/post",
        "parameters": {"item_id": _ID},
    },
    "AgentItem": {
        "operationRef": "#/paths/~1v1~1agent~1items~1{item_id}/get",
        "parameters": {"item_id": _ID},
    },
}


def _headers(ticket: Ticket) -> dict[str, str]:
    return {"ETag": ticket.etag, "Location": f"{router.prefix}/{ticket.public_id}"}


def ticket_response(ticket: Ticket, *, status_code: int = 200) -> JSONResponse:
    """The ticket as JSON with its `ETag` (and `Location`)."""
    return json_response(TicketRead.of(ticket), status_code=status_code, headers=_headers(ticket))


def _if_version(if_match: str | None) -> int | None:
    """The version `If-Match` asks for; None for none or `*` (any version)."""
    return None if if_match in (None, "*") else int(if_match.strip('"'))


def _with_etag(code: int, links: dict[str, Any] | None = None) -> dict[int | str, Any]:
    entry: dict[str, Any] = {"headers": ETAG_HEADER}
    if links:
        entry["links"] = links
    return {code: entry}


@router.post(
    "",
    status_code=201,
    response_model=TicketRead,
    responses=_with_etag(201, CREATED_LINKS) | error_responses(409, 413, 422),
)
@idempotent(status_code=201)
async def create_ticket(
    body: TicketCreate, request: Request, principal: Principal = Depends(writer)
) -> Response:
    """Open a ticket; category, priority, skill group and SLA due times are triaged if not given.
    With an `Idempotency-Key`, a retry gets this ticket back instead of opening another."""
    if body.sender_id and not principal.is_admin_key:  # integrations speak for senders
        await check_sender_rate(request, body.channel, body.sender_id)
    async with ticket_change(request) as session:
        ticket, event = await service.create(
            session, data=body, actor=principal.actor, policy=services(request.app).sla_policy
        )
    await publish_committed(request.app, [event])
    return ticket_response(ticket, status_code=201)


@router.get("", response_model=TicketPage)
async def list_tickets(
    request: Request,
    status: list[TicketStatus] = Query([], description="One or more statuses."),
    priority: list[Priority] = Query([]),
    category: list[Category] = Query([]),
    assignee: str | None = Query(None, max_length=200, pattern=NO_NUL),
    customer: str | None = Query(
        None, max_length=254, pattern=NO_NUL, description="Name, phone or e-mail."
    ),
    skill_group: str | None = Query(None, max_length=100, pattern=NO_NUL),
    conversation_id: str | None = Query(None, max_length=200, pattern=NO_NUL),
    page: PageRequest = Depends(
        paging(
            default="-created_at",
            created_at=Ticket.created_at,
            updated_at=Ticket.updated_at,
            priority=Ticket.priority,
            sla_due_at=Ticket.sla_due_at,
            status=Ticket.status,
        )
    ),
    _: Principal = Depends(reader),
) -> TicketPage:
    """Tickets (newest first unless `sort` says otherwise), filtered, one page at a time;
    `total` counts every match."""
    async with unit_of_work(request_sessions(request)) as session:
        rows, total = await service.get_all(
            session,
            page=page,
            statuses=[value.value for value in status],
            priorities=priority,
            categories=category,
            assignee=assignee,
            customer=customer,
            skill_group=skill_group,
            conversation_id=conversation_id,
        )
    return TicketPage.of([TicketRead.of(row) for row in rows], total, page)


@router.get(
    "/{ticket_id}",
    response_model=TicketRead,
    responses=_with_etag(200) | error_responses(404),
)
async def get_ticket(ticket_id: str, request: Request, _: Principal = Depends(reader)) -> Response:
    """One ticket by its id (e.g. T-000123), with its version as `ETag`."""
    async with unit_of_work(request_sessions(request)) as session:
        ticket = await service.get(session, ticket_id=ticket_id)
    return ticket_response(ticket)


@router.get(
    "/{ticket_id}/history",
    response_model=list[TicketEventRead],
    responses=error_responses(404),
)
async def ticket_history(
    ticket_id: str, request: Request, _: Principal = Depends(reader)
) -> list[TicketEventRead]:
    """Every change of the ticket in order (what the event stream sends, as one list)."""
    async with unit_of_work(request_sessions(request)) as session:
        ticket = await service.get(session, ticket_id=ticket_id)
        events = await service.events_after(session, ticket_id=ticket.public_id, after_seq=0)
    return [TicketEventRead.of(event) for event in events]


@router.patch(
    "/{ticket_id}",
    response_model=TicketRead,
    responses=_with_etag(200) | error_responses(404, 409, 412, 413),
)
async def update_ticket(
    ticket_id: str,
    body: TicketUpdate,
    request: Request,
    if_match: IfMatchHeader = None,
    principal: Principal = Depends(writer),
) -> Response:
    """Move the ticket in its lifecycle, (re)assign it, add a note; illegal moves are 409. With
    `If-Match`, a ticket changed since that version is left alone and answered 412."""
    async with ticket_change(request) as session:
        ticket, event = await service.update_ticket(
            session,
            ticket_id=ticket_id,
            data=body,
            actor=principal.actor,
            if_version=_if_version(if_match),
        )
    if event is not None:
        await publish_committed(request.app, [event])
    return ticket_response(ticket)


@router.post(
    "/{ticket_id}/notes",
    status_code=201,
    response_model=TicketRead,
    responses=error_responses(404, 413),
)
async def add_note(
    ticket_id: str, body: NoteCreate, request: Request, principal: Principal = Depends(writer)
) -> TicketRead:
    """A note on the ticket's timeline (streamed like any change)."""
    async with ticket_change(request) as session:
        ticket, event = await service.add_note(
            session, ticket_id=ticket_id, data=body, actor=principal.actor
        )
    if event is not None:
        await publish_committed(request.app, [event])
    return TicketRead.of(ticket)
