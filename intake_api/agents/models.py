"""Tables of the agents domain and the API shapes of the queue, replies, resolution and CSAT.

Ticket rows stay with the tickets domain; these tables add what agents do to them: who claimed
an item, when a person first answered, which escalation rules fired, the CSAT survey and answer,
and the lease that lets one worker at a time run the escalation job.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.columns import UtcDateTime, utcnow
from core.database import Base
from intake_api.alarms.models import AlarmRead, IncidentRead
from intake_api.limits.text import limit
from intake_api.pagination import Page
from intake_api.tickets.models import TicketRead


class Agent(Base):
    """A person who works tickets: signs in with a password (only its Argon2 hash is kept)."""

    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    skill_groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class AgentSession(Base):
    """A signed-in browser: the cookie's token (hashed) and the CSRF token its page sends back."""

    __tablename__ = "agent_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AgentNote(Base):
    """An internal note on a conversation or ticket: for agents only, never sent to or shown to
    the customer (it lives apart from the conversation's lines)."""

    __tablename__ = "agent_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), nullable=True, index=True
    )
    author: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ReadMark(Base):
    """Until when an agent has read a conversation (the inbox's unread counts)."""

    __tablename__ = "agent_reads"

    agent: Mapped[str] = mapped_column(String(200), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    read_at: Mapped[datetime] = mapped_column(UtcDateTime)


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
    # microseconds from the hand-off to this reply, stored with it (intake_api/kpis/facts.py)
    wait_us: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


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
Role = Literal["agent", "supervisor", "manager"]
Username = Annotated[str, limit(64, min_length=2, strip=True), Field(pattern=r"^[a-z0-9._-]+$")]
Label = Annotated[str, limit(100, min_length=1, strip=True)]


class AgentCreate(BaseModel):
    username: Username
    display_name: Label = Field(description="The name customers see on the agent's replies.")
    role: Role = "agent"
    skill_groups: list[Label] = Field(default_factory=list, max_length=50)
    languages: list[Annotated[str, limit(16, min_length=2, strip=True)]] = Field(
        default_factory=lambda: ["zh"], max_length=20
    )
    password: Annotated[str, limit(200, min_length=8)]


class AgentProfile(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    display_name: str
    role: Role
    skill_groups: list[str]
    languages: list[str]
    active: bool


class AgentPage(Page[AgentProfile]):
    """One page of agents (`intake_api.pagination`)."""


class SignIn(BaseModel):
    username: Annotated[str, limit(64, min_length=1, strip=True)]
    password: Annotated[str, limit(200, min_length=1)]


class Me(BaseModel):
    """Who is signed in, and the CSRF token every changing request must send back."""

    agent: AgentProfile | None = Field(description="None when a machine's API key calls.")
    actor: str
    csrf_token: str | None


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


# --- the workspace ---------------------------------------------------------------------------


class InboxFilters(BaseModel):
    """What the inbox shows: `view` mine / unassigned / all, and filters that all must match."""

    view: Literal["all", "mine", "unassigned"] = "all"
    skill_group: Annotated[str, limit(100, strip=True)] | None = None
    channel: Annotated[str, limit(50, strip=True)] | None = None
    priority: Literal["P1", "P2", "P3", "P4"] | None = None
    product_line: Annotated[str, limit(100, strip=True)] | None = None
    lang: Annotated[str, limit(16, strip=True)] | None = None
    q: Annotated[str, limit(200, strip=True)] | None = Field(
        None, description="Ticket id, phone, serial or customer."
    )


class InboxItem(BaseModel):
    id: str = Field(description="Ticket id, or the conversation id of a hand-off without one.")
    kind: Literal["ticket", "conversation"]
    subject: str
    customer: str | None
    channel: str | None
    priority: str
    status: str
    skill_group: str | None = None
    product_id: str | None = None
    lang: str | None
    assignee: str | None
    assignee_name: str | None = None
    conversation_id: str | None
    due_at: datetime | None
    due_kind: Literal["response", "resolution"] | None = None
    seconds_left: int | None = Field(description="Until the next due time; negative: breached.")
    escalated: bool = False
    unread: int = Field(description="Customer lines since this agent last read it.")


class Inbox(BaseModel):
    items: list[InboxItem]
    total: int


class EquipmentPanel(BaseModel):
    """The workspace's Equipment panel: alarms of units not in the registry, newest first (the
    first few, with how many there are), and the open fleet incidents over their tickets."""

    unmatched: list[AlarmRead]
    unmatched_total: int
    incidents: list[IncidentRead]


class Line(BaseModel):
    speaker: Literal["customer", "bot", "agent", "system"]
    author: str | None
    text: str
    action: str | None
    at: datetime
    attachments: list[dict[str, str]] = Field(
        default_factory=list, description="`{type, name, url}`; `url` empty when not a link."
    )


class NoteRead(BaseModel):
    author: str
    text: str
    at: datetime


class Transcript(BaseModel):
    lines: list[Line]
    notes: list[NoteRead] = Field(description="Internal notes: agents only, never sent.")


class Equipment(BaseModel):
    product_id: str | None
    product_name: str | None
    serial: str | None
    site: str | None
    fault_id: str | None


class PastTicket(BaseModel):
    id: str
    subject: str
    status: str
    created_at: datetime
    product_id: str | None
    fault_id: str | None


class ContextPanel(BaseModel):
    customer_name: str | None
    customer_phone: str | None
    customer_tier: str | None
    customer_key: str | None
    equipment: Equipment
    earlier_tickets: list[PastTicket]
    repeat_fault: bool = Field(
        description="The customer reported the same fault (or product) in the 30 days before."
    )
    repeat_of: list[str]
    response_due_at: datetime | None
    resolution_due_at: datetime | None


class Workspace(BaseModel):
    """One conversation as the workspace shows it: the bot's summary first, the transcript,
    the tickets, the context panel."""

    conversation: ConversationRead | None = Field(description="None for a ticket without one.")
    summary: str | None = Field(description="The bot's summary: its ticket's description.")
    transcript: Transcript
    ticket: TicketRead | None = Field(description="The open ticket (else the latest).")
    context: ContextPanel


class NoteCreate(BaseModel):
    text: AgentText


class AssignCreate(BaseModel):
    assignee: Annotated[str, limit(200, min_length=1, strip=True)] = Field(
        description="The agent's actor (`agent:<username>`), or an API key's."
    )


class PriorityChange(BaseModel):
    priority: Literal["P1", "P2", "P3", "P4"]
    note: Annotated[str, limit(1000, strip=True)] | None = None


class Suggestion(BaseModel):
    id: str
    type: str
    title: str
    score: float
    text: str = Field(description="The answer in the customer's language, ready to edit.")


class CannedReply(BaseModel):
    id: str
    title: str
    text: str
