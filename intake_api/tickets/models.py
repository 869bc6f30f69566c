"""Ticket and ticket-event tables, the lifecycle, and the API shapes."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StrictBool, StringConstraints
from sqlalchemy import (
    JSON,
    Boolean,
    Computed,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.triage.policy import Category, Priority, Tier
from core.columns import UtcDateTime, utcnow
from core.database import Base
from intake_api.limits.text import limit
from intake_api.pagination import Page

TICKET_ID_PREFIX = "T-"
_TICKET_ID = re.compile(r"^T-(\d{1,9})$", re.IGNORECASE)  # fits a 32-bit key


class TicketStatus(StrEnum):
    NEW = "new"
    TRIAGED = "triaged"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    WAITING_CUSTOMER = "waiting_customer"
    RESOLVED = "resolved"
    CLOSED = "closed"
    CANCELLED = "cancelled"


S = TicketStatus
# Every allowed move. Reopening goes from resolved back to work; closed and cancelled are final.
TRANSITIONS: dict[TicketStatus, tuple[TicketStatus, ...]] = {
    S.NEW: (S.TRIAGED, S.ASSIGNED, S.IN_PROGRESS, S.CANCELLED),
    S.TRIAGED: (S.ASSIGNED, S.IN_PROGRESS, S.WAITING_CUSTOMER, S.RESOLVED, S.CANCELLED),
    S.ASSIGNED: (S.IN_PROGRESS, S.WAITING_CUSTOMER, S.RESOLVED, S.TRIAGED, S.CANCELLED),
    S.IN_PROGRESS: (S.WAITING_CUSTOMER, S.RESOLVED, S.ASSIGNED, S.CANCELLED),
    S.WAITING_CUSTOMER: (S.IN_PROGRESS, S.RESOLVED, S.CANCELLED),
    S.RESOLVED: (S.CLOSED, S.IN_PROGRESS, S.ASSIGNED, S.TRIAGED),
    S.CLOSED: (),
    S.CANCELLED: (),
}
# Status groups, kept beside the table they follow from (tests check the two agree).
# Final: no move leads out.
FINAL_STATUSES: frozenset[TicketStatus] = frozenset({S.CLOSED, S.CANCELLED})
# Finished: no work left (a resolved ticket may still be reopened).
FINISHED_STATUSES: frozenset[TicketStatus] = FINAL_STATUSES | {S.RESOLVED}
# Open: everything not finished.
OPEN_STATUSES: frozenset[TicketStatus] = frozenset(TicketStatus) - FINISHED_STATUSES
# Open and waiting for a person (waiting_customer waits on the customer instead).
NEEDS_PERSON_STATUSES: frozenset[TicketStatus] = OPEN_STATUSES - {S.WAITING_CUSTOMER}
# Solved for the customer: resolved or closed (not cancelled).
SOLVED_STATUSES: frozenset[TicketStatus] = frozenset({S.RESOLVED, S.CLOSED})


def format_ticket_id(number: int) -> str:
    """The readable id of ticket row `number`, e.g. T-000123."""
    return f"{TICKET_ID_PREFIX}{number:06d}"


def parse_ticket_id(ticket_id: str) -> int | None:
    """The row number of a readable id, or None when it is not one."""
    match = _TICKET_ID.match(ticket_id.strip())
    return int(match.group(1)) if match else None


# Who and what a ticket is about, as the KPIs compare tickets (durable resolution, repeat faults):
# generated columns, so they stay in step with every write (migration agents_0005 adds them).
CUSTOMER_KEY_SQL = (
    "CASE WHEN coalesce(customer_phone, '') <> '' OR coalesce(customer_email, '') <> '' "
    "THEN 'contact:' || coalesce(customer_phone, '') || '|' || coalesce(customer_email, '') "
    "WHEN coalesce(sender_id, '') <> '' "
    "THEN 'sender:' || coalesce(channel, 'None') || '|' || sender_id END"
)
FAULT_KEY_SQL = (
    "CASE WHEN coalesce(fault_id, '') <> '' THEN 'fault:' || fault_id "
    "WHEN coalesce(product_id, '') <> '' THEN 'product:' || product_id END"
)


class Ticket(Base):
    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    priority: Mapped[str] = mapped_column(String(2), index=True)
    category: Mapped[str] = mapped_column(String(20), index=True)
    skill_group: Mapped[str] = mapped_column(String(100), index=True)
    subject: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    customer_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    customer_phone: Mapped[str | None] = mapped_column(String(50), nullable=True, index=True)
    customer_email: Mapped[str | None] = mapped_column(String(254), nullable=True, index=True)
    customer_tier: Mapped[str] = mapped_column(String(20), default="standard")
    product_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    fault_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    channel: Mapped[str | None] = mapped_column(String(50), nullable=True)
    conversation_id: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    sender_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lang: Mapped[str | None] = mapped_column(String(16), nullable=True)
    assignee: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    status_token: Mapped[str] = mapped_column(String(64), unique=True)
    triage_reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    sla_due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    resolution_due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    customer_key: Mapped[str | None] = mapped_column(
        Text, Computed(CUSTOMER_KEY_SQL, persisted=True), deferred=True
    )
    fault_key: Mapped[str | None] = mapped_column(
        Text, Computed(FAULT_KEY_SQL, persisted=True), deferred=True
    )
    # What later tickets of the same customer and fault say about this one (kept by
    # intake_api.tickets.outcomes as tickets are opened and resolved; migration agents_0006).
    repeats_fault: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    fault_recurred: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    @property
    def public_id(self) -> str:
        return format_ticket_id(self.id)

    @property
    def etag(self) -> str:
        """The ticket's entity tag: its version, quoted (a strong validator)."""
        return f'"{self.version}"'


class TicketEvent(Base):
    """One change of a ticket; `seq` counts 1, 2, 3... per ticket (the SSE event id)."""

    __tablename__ = "ticket_events"
    __table_args__ = (UniqueConstraint("ticket_id", "seq", name="uq_ticket_events_ticket_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(20))
    previous_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    assignee: Mapped[str | None] = mapped_column(String(200), nullable=True)
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


# --- API shapes ----------------------------------------------------------------------------------
Subject = Annotated[str, limit(300, min_length=1, strip=True)]
Short = Annotated[str, limit(200, min_length=1, strip=True)]
Note = Annotated[str, limit(10_000, min_length=1, strip=True)]
# Explicit ASCII whitespace, not `\s`: regex engines (the schema fuzzers', pydantic's) disagree on
# which Unicode characters `\s` covers, so a schema-valid address could be refused.
EMAIL = r"^[^@ \t\n\r\f\v\x00]+@[^@ \t\n\r\f\v\x00]+\.[^@ \t\n\r\f\v\x00]+$"


class Customer(BaseModel):
    name: Short | None = None
    phone: Annotated[str, limit(50, strip=True)] | None = None
    email: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=254, pattern=EMAIL)]
        | None
    ) = None
    tier: Tier = "standard"


class TicketCreate(BaseModel):
    """A new ticket; what is not given (category, priority, ...) is triaged."""

    subject: Subject
    description: Annotated[str, limit(20_000)] | None = None
    customer: Customer | None = None
    product_id: Annotated[str, limit(100)] | None = None
    fault_id: Annotated[str, limit(100)] | None = None
    category: Category | None = None
    priority: Priority | None = None
    severity: Literal["low", "medium", "high", "critical"] | None = Field(
        default=None, description="Fault severity when known; default: the KB fault's."
    )
    safety_hazard: StrictBool | None = Field(
        default=None, description="The fault endangers people; default: the KB fault's."
    )
    channel: Annotated[str, limit(50)] | None = None
    conversation_id: Annotated[str, limit(200)] | None = None
    sender_id: Annotated[str, limit(200)] | None = None
    lang: Annotated[str, limit(16)] | None = None


class TicketUpdate(BaseModel):
    """A move in the lifecycle, a note, a new assignee, or several at once (empty: no change)."""

    status: TicketStatus | None = None
    note: Note | None = None
    assignee: Annotated[str, limit(200, strip=True)] | None = None


class NoteCreate(BaseModel):
    note: Note


class TicketRead(BaseModel):
    id: str
    status: TicketStatus
    priority: Priority
    category: Category
    skill_group: str
    subject: str
    description: str | None
    customer: Customer
    product_id: str | None
    fault_id: str | None
    channel: str | None
    conversation_id: str | None
    sender_id: str | None
    lang: str | None
    assignee: str | None
    status_token: str = Field(description="Lets the customer follow the ticket's status.")
    sla_due_at: datetime = Field(description="When the first response is due.")
    resolution_due_at: datetime
    triage_reasons: list[str]
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    closed_at: datetime | None
    allowed_transitions: list[TicketStatus]
    version: int = Field(
        description="Counts the ticket's changes; the `ETag` is this number in quotes. Send it "
        "back in `If-Match` to change the ticket only if nobody else did meanwhile."
    )

    @classmethod
    def of(cls, ticket: Ticket) -> TicketRead:
        return cls(
            id=ticket.public_id,
            status=TicketStatus(ticket.status),
            priority=ticket.priority,
            category=ticket.category,
            skill_group=ticket.skill_group,
            subject=ticket.subject,
            description=ticket.description,
            customer=Customer(
                name=ticket.customer_name,
                phone=ticket.customer_phone,
                email=ticket.customer_email,
                tier=ticket.customer_tier,
            ),
            product_id=ticket.product_id,
            fault_id=ticket.fault_id,
            channel=ticket.channel,
            conversation_id=ticket.conversation_id,
            sender_id=ticket.sender_id,
            lang=ticket.lang,
            assignee=ticket.assignee,
            status_token=ticket.status_token,
            sla_due_at=ticket.sla_due_at,
            resolution_due_at=ticket.resolution_due_at,
            triage_reasons=list(ticket.triage_reasons or []),
            created_at=ticket.created_at,
            updated_at=ticket.updated_at,
            resolved_at=ticket.resolved_at,
            closed_at=ticket.closed_at,
            allowed_transitions=list(TRANSITIONS[TicketStatus(ticket.status)]),
            version=ticket.version,
        )


class TicketPage(Page[TicketRead]):
    """A page of tickets."""


class TicketEventRead(BaseModel):
    """One change as streamed to clients (SSE `data:` / WebSocket message)."""

    ticket_id: str
    seq: int
    event: str
    status: TicketStatus
    previous_status: TicketStatus | None = None
    at: datetime
    note: str | None = None
    assignee: str | None = None

    @classmethod
    def of(cls, event: TicketEvent) -> TicketEventRead:
        return cls(
            ticket_id=format_ticket_id(event.ticket_id),
            seq=event.seq,
            event=event.kind,
            status=TicketStatus(event.status),
            previous_status=TicketStatus(event.previous_status) if event.previous_status else None,
            at=event.at,
            note=event.note,
            assignee=event.assignee,
        )

    def payload(self) -> dict[str, Any]:
        """JSON-ready dict without empty optional fields."""
        return self.model_dump(mode="json", exclude_none=True)
