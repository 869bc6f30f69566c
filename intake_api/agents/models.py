"""Tables of the agents domain and the API shapes of the queue, replies, resolution and CSAT.

Ticket rows stay with the tickets domain; these tables add what agents do to them: who claimed
an item, when a person first answered, which escalation rules fired, the CSAT survey and answer,
and the lease that lets one worker at a time run the escalation job.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field
from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.columns import UtcDateTime, utcnow
from core.database import Base
from intake_api.limits.text import limit
from intake_api.tickets.models import TicketRead


class AgentClaim(Base):
    """An agent holds a queue item (a ticket id like T-000001 or a conversation id)."""

    __tablename__ = "agent_claims"

    item_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    agent: Mapped[str] = mapped_column(String(200), index=True)
    claimed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class AgentActivity(Base):
    """One thing an agent did (claim, reply, handback, resolve): the trail KPIs read."""

    __tablename__ = "agent_activity"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agent: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    conversation_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), nullable=True, index=True
    )
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class FirstResponse(Base):
    """When a person first answered the ticket's customer (the response SLA's clock stops)."""

    __tablename__ = "ticket_first_responses"

    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    agent: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Escalation(Base):
    """One escalation rule that fired for a ticket; each rule fires once per ticket."""

    __tablename__ = "ticket_escalations"
    __table_args__ = (UniqueConstraint("ticket_id", "rule", name="uq_ticket_escalations_rule"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    rule: Mapped[str] = mapped_column(String(32))
    from_priority: Mapped[str] = mapped_column(String(2))
    to_priority: Mapped[str] = mapped_column(String(2))
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Csat(Base):
    """The satisfaction survey of a resolved ticket and the customer's one answer."""

    __tablename__ = "csat"

    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    surveyed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True, index=True)
    answered_by: Mapped[str | None] = mapped_column(String(200), nullable=True)


class JobLease(Base):
    """Which worker runs a periodic job until when (several workers, one runner)."""

    __tablename__ = "agent_job_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)


# --- API shapes ----------------------------------------------------------------------------------
AgentText = Annotated[str, limit(4000, min_length=1, strip=True)]


class QueueItem(BaseModel):
    """One thing waiting for a person: a ticket, or a handed-off conversation without one."""

    id: str = Field(description="Ticket id (T-000123) or conversation id; claim it by this id.")
    kind: Literal["ticket", "conversation"]
    priority: str
    due_at: datetime | None = Field(
        description="The next SLA due time: first response until answered, then resolution."
    )
    response_breached: bool
    resolution_breached: bool
    escalated: bool
    escalation_rules: list[str]
    handoff: bool = Field(description="The bot handed the conversation to a person.")
    claimed_by: str | None
    conversation_id: str | None
    channel: str | None
    subject: str
    status: str
    first_response_at: datetime | None
    ticket: TicketRead | None


class Queue(BaseModel):
    items: list[QueueItem]
    total: int


class ReplyCreate(BaseModel):
    text: AgentText


class ReplyResult(BaseModel):
    conversation_id: str
    delivered: bool
    channel: str
    error: str | None = None
    first_response_for: list[str] = Field(description="Tickets whose first response this reply is.")


class HistoryLine(BaseModel):
    direction: str
    text: str
    action: str | None
    author: str | None = Field(None, description="The agent who wrote an `agent` line.")
    at: datetime


class ConversationRead(BaseModel):
    id: str
    channel: str
    sender_id: str
    status: str
    lang: str
    customer: dict[str, object]
    messages: list[HistoryLine]
    tickets: list[TicketRead]


class ResolveCreate(BaseModel):
    note: Annotated[str, limit(10_000, min_length=1, strip=True)]


class CsatCreate(BaseModel):
    score: int = Field(ge=1, le=5, description="1 (very unhappy) to 5 (very happy).")
    comment: Annotated[str, limit(2000, strip=True)] | None = None


class CsatRead(BaseModel):
    ticket_id: str
    score: int
    comment: str | None
    answered_at: datetime


class ClaimRead(BaseModel):
    id: str
    claimed_by: str
    claimed_at: datetime
    ticket: TicketRead | None
