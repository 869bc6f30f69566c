"""The bot's ticket desk: the dialogue's `TicketDesk` port over the tickets domain.

Tickets are created in the caller's transaction with triage; their events are parked on the
session (`session.info`) so the caller publishes them once the transaction has committed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.dialogue.ports import TicketRequest
from bot.triage import SlaPolicy
from intake_api.tickets import service as tickets
from intake_api.tickets.models import (
    FINISHED_STATUSES,
    Customer,
    NoteCreate,
    Ticket,
    TicketCreate,
    TicketEvent,
    TicketRead,
    parse_ticket_id,
)

BOT_ACTOR = "bot"
PENDING_EVENTS = "ticket_events"
# The customer's urgency raises the severity triage reads; "normal" leaves the KB fault's.
SEVERITY_OF_URGENCY = {"critical": "critical", "high": "high"}
# ... and, said after the ticket is made, the priority triage gives that severity.
PRIORITY_OF_URGENCY = {"critical": "P1", "high": "P2"}


def pending_events(session: AsyncSession) -> list[TicketEvent]:
    """Ticket events created in this session, to publish after the commit."""
    return session.info.setdefault(PENDING_EVENTS, [])


def _as_contract(ticket: Ticket) -> dict[str, Any]:
    return TicketRead.of(ticket).model_dump(mode="json")


def _customer_filter(customer: dict[str, Any]) -> Any:
    """Tickets of this sender on this channel, or under the phone number the customer gave."""
    same_sender = and_(
        Ticket.channel == customer.get("channel"), Ticket.sender_id == customer.get("sender_id")
    )
    phone = customer.get("phone")
    return or_(same_sender, Ticket.customer_phone == phone) if phone else same_sender


class BotTicketDesk:
    """Creates and looks up tickets for the dialogue, as the actor `bot`."""

    def __init__(self, policy: SlaPolicy) -> None:
        self.policy = policy

    async def create(self, session: AsyncSession, request: TicketRequest) -> dict[str, Any]:
        customer = request.customer
        data = TicketCreate(
            subject=request.subject[:300],
            description=request.description,
            customer=Customer(
                name=customer.get("name"),
                phone=customer.get("phone"),
                tier=customer.get("tier") or "standard",
            ),
            product_id=request.product_id,
            fault_id=request.fault_id,
            category=request.category,
            severity=SEVERITY_OF_URGENCY.get(request.urgency or ""),
            channel=customer.get("channel"),
            conversation_id=customer.get("conversation_id"),
            sender_id=customer.get("sender_id"),
            lang=customer.get("lang"),
        )
        ticket, event = await tickets.create(
            session, data=data, actor=BOT_ACTOR, policy=self.policy
        )
        pending_events(session).append(event)
        return _as_contract(ticket)

    async def add_details(
        self, session: AsyncSession, ticket_id: str, note: str, urgency: str | None
    ) -> dict[str, Any]:
        """The customer's words as a note on the ticket; an urgency above the ticket's priority
        raises it (an escalation, as an agent's would be)."""
        ticket, event = await tickets.add_note(
            session, ticket_id=ticket_id, data=NoteCreate(note=note), actor=BOT_ACTOR
        )
        pending_events(session).append(event)
        priority = PRIORITY_OF_URGENCY.get(urgency or "")
        if priority is not None and priority < ticket.priority:  # "P1" < "P2": more urgent
            ticket, event = await tickets.escalate(
                session, ticket_id=ticket_id, priority=priority, note=note, actor=BOT_ACTOR
            )
            pending_events(session).append(event)
        return _as_contract(ticket)

    async def get(
        self, session: AsyncSession, ticket_id: str, customer: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The ticket, only when it belongs to this customer (others' tickets stay private)."""
        number = parse_ticket_id(ticket_id)
        if number is None:
            return None
        query = select(Ticket).where(Ticket.id == number, _customer_filter(customer))
        ticket = await session.scalar(query)
        return _as_contract(ticket) if ticket is not None else None

    async def open_for(
        self, session: AsyncSession, customer: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """The customer's tickets that are not finished, newest first."""
        query = (
            select(Ticket)
            .where(_customer_filter(customer), Ticket.status.not_in(FINISHED_STATUSES))
            .order_by(Ticket.id.desc())
            .limit(10)
        )
        return [_as_contract(ticket) for ticket in await session.scalars(query)]
