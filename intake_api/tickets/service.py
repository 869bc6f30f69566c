"""Ticket operations over a session; the caller owns the transaction (one per request).

Every change writes, in the caller's transaction: the ticket row, a `ticket_events` row with the
ticket's next sequence number, an audit row and an outbox row for the backend delivery.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.triage import SlaPolicy, triage
from core.columns import utcnow
from core.errors import Conflict, NotFound, PreconditionFailed
from intake_api.audit import service as audit
from intake_api.deliveries.outbox import enqueue
from intake_api.pagination import PageRequest
from intake_api.tickets.kb_facts import KbFacts, kb_facts
from intake_api.tickets.models import (
    TRANSITIONS,
    NoteCreate,
    Ticket,
    TicketCreate,
    TicketEvent,
    TicketRead,
    TicketStatus,
    TicketUpdate,
    parse_ticket_id,
)
from intake_api.tickets.outcomes import customer_key, fault_key, note_opened


def _not_found(ticket_id: str) -> NotFound:
    return NotFound(f"ticket {ticket_id} not found", id=ticket_id)


async def get(session: AsyncSession, *, ticket_id: str) -> Ticket:
    """The ticket with readable id `ticket_id` (404 when there is none)."""
    number = parse_ticket_id(ticket_id)
    ticket = await session.get(Ticket, number) if number is not None else None
    if ticket is None:
        raise _not_found(ticket_id)
    return ticket


async def _record_change(
    session: AsyncSession,
    *,
    ticket: Ticket,
    kind: str,
    actor: str,
    previous_status: str | None = None,
    note: str | None = None,
    changes: dict[str, Any],
    deliveries: Sequence[str],
) -> TicketEvent:
    """The event, audit and outbox rows of one change (the ticket row already carries it)."""
    event = TicketEvent(
        ticket_id=ticket.id,
        seq=ticket.last_seq,
        kind=kind,
        status=ticket.status,
        previous_status=previous_status,
        note=note,
        assignee=ticket.assignee,
        actor=actor,
        at=ticket.updated_at,
    )
    session.add(event)
    snapshot = TicketRead.of(ticket).model_dump(mode="json")
    for delivery in deliveries:
        enqueue(session, ticket_id=ticket.public_id, event=delivery, ticket=snapshot)
    await audit.record(
        session,
        actor=actor,
        action=kind,
        entity="ticket",
        entity_id=ticket.public_id,
        changes=changes,
    )
    return event


async def create(
    session: AsyncSession, *, data: TicketCreate, actor: str, policy: SlaPolicy
) -> tuple[Ticket, TicketEvent]:
    """A new ticket in status `new`, triaged for whatever `data` does not say."""
    (created,) = await create_many(session, [data], actor=actor, policy=policy)
    return created


async def create_many(
    session: AsyncSession, items: Sequence[TicketCreate], *, actor: str, policy: SlaPolicy
) -> list[tuple[Ticket, TicketEvent]]:
    """New tickets as `create` makes them, in one insert, the KB facts read once per product
    and fault (for callers that open many at once: a batch of alarms)."""
    facts: dict[tuple[str | None, str | None], KbFacts] = {}
    for data in items:
        if (data.product_id, data.fault_id) not in facts:
            facts[data.product_id, data.fault_id] = await kb_facts(
                session, product_id=data.product_id, fault_id=data.fault_id
            )
    now = utcnow()
    new = [_new_ticket(data, facts[data.product_id, data.fault_id], policy, now) for data in items]
    session.add_all(new)
    await session.flush()
    await _note_opened(session, new)
    return [
        (
            ticket,
            await _record_change(
                session,
                ticket=ticket,
                kind="ticket.created",
                actor=actor,
                changes=data.model_dump(mode="json", exclude_none=True)
                | {"priority": ticket.priority, "category": ticket.category},
                deliveries=["ticket.created"],
            ),
        )
        for ticket, data in zip(new, items, strict=True)
    ]


async def _note_opened(session: AsyncSession, new: list[Ticket]) -> None:
    """Record what the new tickets say about the earlier ones of the same customer and fault
    (`outcomes`); a ticket without both says nothing."""
    ids = [
        ticket.id
        for ticket in new
        if fault_key(ticket.product_id, ticket.fault_id)
        and customer_key(
            ticket.customer_phone, ticket.customer_email, ticket.channel, ticket.sender_id
        )
    ]
    if ids:
        for statement in note_opened(ids):
            await session.execute(statement, execution_options={"synchronize_session": False})


def _new_ticket(data: TicketCreate, facts: KbFacts, policy: SlaPolicy, now: datetime) -> Ticket:
    """The ticket row of `data`, triaged with the KB's facts."""
    customer = data.customer
    tier = customer.tier if customer else "standard"
    result = triage(
        subject=data.subject,
        description=data.description,
        category=data.category or facts.category,
        priority=data.priority,
        tier=tier,
        product_id=data.product_id,
        product_line=facts.product_line,
        fault_id=data.fault_id,
        severity=data.severity or facts.severity,
        safety_hazard=data.safety_hazard if data.safety_hazard is not None else facts.safety_hazard,
        now=now,
        policy=policy,
    )
    return Ticket(
        status=TicketStatus.NEW.value,
        priority=result.priority,
        category=result.category,
        skill_group=result.skill_group,
        subject=data.subject,
        description=data.description,
        customer_name=customer.name if customer else None,
        customer_phone=customer.phone if customer else None,
        customer_email=customer.email if customer else None,
        customer_tier=tier,
        product_id=data.product_id,
        fault_id=data.fault_id,
        channel=data.channel,
        conversation_id=data.conversation_id,
        sender_id=data.sender_id,
        lang=data.lang,
        status_token=secrets.token_urlsafe(24),
        triage_reasons=list(result.reasons),
        sla_due_at=result.response_due_at,
        resolution_due_at=result.resolution_due_at,
        created_at=now,
        updated_at=now,
        last_seq=1,
    )


def stale_version(ticket: Ticket) -> PreconditionFailed:
    """412 for an `If-Match` older than `ticket`: the current version and ticket in `detail`."""
    return PreconditionFailed(
        f"ticket {ticket.public_id} changed since you read it (now version {ticket.version}): "
        "read it again, then retry with its ETag in If-Match",
        headers={"ETag": ticket.etag},
        id=ticket.public_id,
        current_version=ticket.version,
        etag=ticket.etag,
        ticket=TicketRead.of(ticket).model_dump(mode="json"),
    )


async def _lock_for_change(
    session: AsyncSession, *, ticket_id: str, if_version: int | None = None
) -> Ticket:
    """Take the ticket's next sequence number and version first: the UPDATE locks the row
    (PostgreSQL) or the database (SQLite) before anything is read, so concurrent changes queue
    up in order. With `if_version`, only that version is changed (compare-and-set), else 412."""
    number = parse_ticket_id(ticket_id)
    if number is None:
        raise _not_found(ticket_id)
    matches = [Ticket.id == number]
    if if_version is not None:
        matches.append(Ticket.version == if_version)
    seq = await session.scalar(
        update(Ticket)
        .where(*matches)
        .values(last_seq=Ticket.last_seq + 1, version=Ticket.version + 1)
        .returning(Ticket.last_seq)
    )
    if seq is None:
        raise stale_version(await get(session, ticket_id=ticket_id))
    ticket = await session.get(Ticket, number, populate_existing=True)
    assert ticket is not None  # the row was just updated in this transaction
    return ticket


def _check_transition(ticket: Ticket, target: TicketStatus) -> None:
    current = TicketStatus(ticket.status)
    allowed = TRANSITIONS[current]
    if target not in allowed:
        names = ", ".join(status.value for status in allowed) or "none (final status)"
        raise Conflict(
            f"ticket {ticket.public_id} cannot move from {current.value} to {target.value}; "
            f"allowed from {current.value}: {names}",
            id=ticket.public_id,
            from_status=current.value,
            to_status=target.value,
            allowed=[status.value for status in allowed],
        )


def _apply_status(ticket: Ticket, target: TicketStatus) -> None:
    ticket.status = target.value
    if target is TicketStatus.RESOLVED:
        ticket.resolved_at = ticket.updated_at
        ticket.fault_recurred = False  # no ticket is opened after this new resolution yet
    elif target is TicketStatus.CLOSED:
        ticket.closed_at = ticket.updated_at
        if ticket.resolved_at is None:  # resolved by this closing
            ticket.fault_recurred = False
    elif target is not TicketStatus.CANCELLED:
        ticket.resolved_at = None  # reopened


async def update_ticket(
    session: AsyncSession,
    *,
    ticket_id: str,
    data: TicketUpdate,
    actor: str,
    if_version: int | None = None,
) -> tuple[Ticket, TicketEvent | None]:
    """Move a ticket (409 naming from, to and the allowed moves), set its assignee, add a note;
    with `if_version`, only when the ticket is still at that version (412 otherwise).

    An empty update changes nothing and records no event (`None`)."""
    if data.status is None and data.note is None and data.assignee is None:
        ticket = await get(session, ticket_id=ticket_id)
        if if_version is not None and ticket.version != if_version:
            raise stale_version(ticket)
        return ticket, None
    ticket = await _lock_for_change(session, ticket_id=ticket_id, if_version=if_version)
    previous = ticket.status
    target = data.status if data.status is not None and data.status.value != previous else None
    moves = target is not None
    if data.status is not None and not moves and data.note is None and data.assignee is None:
        raise Conflict(
            f"ticket {ticket.public_id} is already {previous}",
            id=ticket.public_id,
            from_status=previous,
            to_status=previous,
            allowed=[status.value for status in TRANSITIONS[TicketStatus(previous)]],
        )
    if target is not None:
        _check_transition(ticket, target)
    reassigned = data.assignee is not None and (data.assignee or None) != ticket.assignee
    ticket.updated_at = utcnow()
    if target is not None:
        _apply_status(ticket, target)
    if reassigned:
        ticket.assignee = data.assignee or None
    deliveries = (["ticket.status_changed"] if moves else []) + (
        ["ticket.assigned"] if reassigned else []
    )
    if data.note is not None and not deliveries:
        deliveries = ["ticket.note_added"]
    kind = deliveries[0] if deliveries else "ticket.note_added"
    changes = data.model_dump(mode="json", exclude_none=True)
    if moves:
        changes["previous_status"] = previous
    event = await _record_change(
        session,
        ticket=ticket,
        kind=kind,
        actor=actor,
        previous_status=previous if moves else None,
        note=data.note,
        changes=changes,
        deliveries=deliveries,
    )
    return ticket, event


async def escalate(
    session: AsyncSession, *, ticket_id: str, priority: str, note: str, actor: str
) -> tuple[Ticket, TicketEvent]:
    """Raise the ticket's priority (or keep it at the top) and say why; streamed, audited and
    delivered like any change."""
    ticket = await _lock_for_change(session, ticket_id=ticket_id)
    previous = ticket.priority
    ticket.priority = priority
    ticket.updated_at = utcnow()
    event = await _record_change(
        session,
        ticket=ticket,
        kind="ticket.escalated",
        actor=actor,
        note=note,
        changes={"priority": priority, "previous_priority": previous, "note": note},
        deliveries=["ticket.escalated"],
    )
    return ticket, event


async def add_note(
    session: AsyncSession, *, ticket_id: str, data: NoteCreate, actor: str
) -> tuple[Ticket, TicketEvent]:
    """A note on the ticket's timeline; the status stays."""
    ticket, event = await update_ticket(
        session, ticket_id=ticket_id, data=TicketUpdate(note=data.note), actor=actor
    )
    assert event is not None  # a note is always a change
    return ticket, event


def _filtered(
    query: Select[Any],
    *,
    statuses: Sequence[str],
    priorities: Sequence[str],
    categories: Sequence[str],
    assignee: str | None,
    customer: str | None,
    skill_group: str | None,
    conversation_id: str | None,
) -> Select[Any]:
    conditions: list[ColumnElement[bool]] = []
    for listed, values in (
        (Ticket.status, statuses),
        (Ticket.priority, priorities),
        (Ticket.category, categories),
    ):
        if values:
            conditions.append(listed.in_(list(values)))
    for column, value in (
        (Ticket.assignee, assignee),
        (Ticket.skill_group, skill_group),
        (Ticket.conversation_id, conversation_id),
    ):
        if value is not None:
            conditions.append(column == value)
    if customer is not None:
        conditions.append(
            or_(
                Ticket.customer_name == customer,
                Ticket.customer_phone == customer,
                Ticket.customer_email == customer,
            )
        )
    return query.where(*conditions)


async def get_all(
    session: AsyncSession,
    *,
    page: PageRequest,
    statuses: Sequence[str] = (),
    priorities: Sequence[str] = (),
    categories: Sequence[str] = (),
    assignee: str | None = None,
    customer: str | None = None,
    skill_group: str | None = None,
    conversation_id: str | None = None,
) -> tuple[list[Ticket], int]:
    """A page of tickets in the order `page` names, and how many match the filters in all."""
    query = _filtered(
        select(Ticket),
        statuses=statuses,
        priorities=priorities,
        categories=categories,
        assignee=assignee,
        customer=customer,
        skill_group=skill_group,
        conversation_id=conversation_id,
    )
    return await page.fetch(session, query, tiebreak=Ticket.id)


async def events_after(
    session: AsyncSession, *, ticket_id: str, after_seq: int
) -> list[TicketEvent]:
    """The ticket's events with a sequence number above `after_seq`, in order."""
    number = parse_ticket_id(ticket_id)
    if number is None:
        return []
    rows = await session.scalars(
        select(TicketEvent)
        .where(TicketEvent.ticket_id == number, TicketEvent.seq > after_seq)
        .order_by(TicketEvent.seq)
    )
    return list(rows)
