"""Ticket routes: create (triaged), list with filters, read, move/assign/note."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from bot.triage.policy import Category, Priority
from core.database import unit_of_work
from intake_api.auth.dependencies import request_sessions, require_scopes
from intake_api.auth.models import Principal
from intake_api.auth.responses import AUTHENTICATED, error_responses
from intake_api.events.stream import publish_committed
from intake_api.limits.dependencies import check_sender_rate
from intake_api.limits.text import NO_NUL
from intake_api.services import services
from intake_api.tickets import service
from intake_api.tickets.models import (
    NoteCreate,
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


@router.post("", status_code=201, response_model=TicketRead, responses=error_responses(413))
async def create_ticket(
    body: TicketCreate, request: Request, principal: Principal = Depends(writer)
) -> TicketRead:
    """Open a ticket; category, priority, skill group and SLA due times are triaged if not given."""
    if body.sender_id and not principal.is_admin_key:  # integrations speak for senders
        await check_sender_rate(request, body.channel, body.sender_id)
    async with ticket_change(request) as session:
        ticket, event = await service.create(
            session, data=body, actor=principal.actor, policy=services(request.app).sla_policy
        )
    await publish_committed(request.app, [event])
    return TicketRead.of(ticket)


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
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=10_000_000),
    _: Principal = Depends(reader),
) -> TicketPage:
    """Tickets newest first, filtered, one page at a time; `total` counts every match."""
    async with unit_of_work(request_sessions(request)) as session:
        rows, total = await service.get_all(
            session,
            statuses=[value.value for value in status],
            priorities=priority,
            categories=category,
            assignee=assignee,
            customer=customer,
            skill_group=skill_group,
            conversation_id=conversation_id,
            limit=limit,
            offset=offset,
        )
    return TicketPage(
        items=[TicketRead.of(row) for row in rows], total=total, limit=limit, offset=offset
    )


@router.get("/{ticket_id}", response_model=TicketRead, responses=error_responses(404))
async def get_ticket(
    ticket_id: str, request: Request, _: Principal = Depends(reader)
) -> TicketRead:
    """One ticket by its id (e.g. T-000123)."""
    async with unit_of_work(request_sessions(request)) as session:
        ticket = await service.get(session, ticket_id=ticket_id)
    return TicketRead.of(ticket)


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
    responses=error_responses(404, 409, 413),
)
async def update_ticket(
    ticket_id: str, body: TicketUpdate, request: Request, principal: Principal = Depends(writer)
) -> TicketRead:
    """Move the ticket in its lifecycle, (re)assign it, add a note; illegal moves are 409."""
    async with ticket_change(request) as session:
        ticket, event = await service.update_ticket(
            session, ticket_id=ticket_id, data=body, actor=principal.actor
        )
    if event is not None:
        await publish_committed(request.app, [event])
    return TicketRead.of(ticket)


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
