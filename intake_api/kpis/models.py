"""The shape of `GET /v1/kpis`: every figure over one time window, with its definition."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class AiHandling(BaseModel):
    """Conversations the bot touched (every conversation starts with it) and the share it saw
    through alone: never handed off, no agent action, no ticket. Bots never count as agents."""

    conversations: int
    bot_only: int
    share: float | None


class FirstResponse(BaseModel):
    """Seconds from the hand-off to a person's first reply: from the last bot line (or the
    ticket's creation, the hand-off, when later) before that reply (tickets answered so far)."""

    count: int
    p50_seconds: float | None
    avg_seconds: float | None


class FirstContactResolution(BaseModel):
    """Resolved tickets never reopened and answered by at most one agent reply."""

    resolved: int
    first_contact: int
    rate: float | None


class Compliance(BaseModel):
    met: int
    breached: int
    rate: float | None = Field(description="met / (met + breached); tickets still in time wait.")


class SlaCompliance(BaseModel):
    response: Compliance
    resolution: Compliance


class DurableResolution(BaseModel):
    """Resolved tickets that stayed resolved: never reopened, and no new ticket of the same
    customer's unit (customer and product) with the same fault within 7 days after."""

    resolved: int
    durable: int
    rate: float | None


class ResolutionTime(BaseModel):
    """Seconds from a ticket's creation to its resolution (resolved tickets)."""

    count: int
    p50_seconds: float | None
    avg_seconds: float | None


class CsatSummary(BaseModel):
    count: int
    avg: float | None
    distribution: dict[str, int]
    surveyed: int = Field(description="Surveys sent in the window.")
    response_rate: float | None = Field(description="Of the surveys sent in the window, answered.")


class KnowledgeGap(BaseModel):
    """Customer questions the bot could not answer (its fallback), grouped."""

    label: str
    count: int
    examples: list[str]
    lang: str


class Breakdown(BaseModel):
    """SLA per group of a dimension (tier, skill group, agent, channel, …)."""

    groups: dict[str, SlaCompliance]


class RepeatFaults(BaseModel):
    """Tickets whose customer reported the same fault (or product, without a fault id) in the
    30 days before; and, from the equipment's own alarms, tickets opened for a unit and alarm
    code that had a ticket within the repeat window (`unit_repeats`)."""

    tickets_with_fault: int
    repeats: int
    share: float | None
    unit_repeats: int = Field(
        0,
        description="Tickets of the window opened by an alarm of a unit and code that had a "
        "ticket within the repeat window (AFTERSALES_REPEAT_FAULT_DAYS, 30 by default).",
    )


class Volume(BaseModel):
    conversations_by_channel: dict[str, int]
    tickets_by_channel: dict[str, int]
    tickets_by_category: dict[str, int]
    tickets_by_product_line: dict[str, int] = Field(default_factory=dict)


class Kpis(BaseModel):
    start: datetime = Field(serialization_alias="from")
    end: datetime = Field(serialization_alias="to")
    tickets: int
    ai_handling: AiHandling
    first_response: FirstResponse
    first_contact_resolution: FirstContactResolution
    sla: dict[str, SlaCompliance] = Field(description="Per priority P1..P4 and `all`.")
    sla_by: dict[str, dict[str, SlaCompliance]] = Field(
        default_factory=dict, description="Per `tier`, `skill_group` and `agent`."
    )
    durable_resolution: DurableResolution
    resolution_time: ResolutionTime
    csat: CsatSummary
    repeat_faults: RepeatFaults
    volume: Volume
    handoff_reasons: dict[str, int] = Field(default_factory=dict)
    knowledge_gaps: list[KnowledgeGap] = Field(default_factory=list)


class KpiFilters(BaseModel):
    """Tickets counted: every filter given must match (conversation figures take `channel`)."""

    channel: str | None = Field(None, max_length=50)
    priority: Literal["P1", "P2", "P3", "P4"] | None = None
    tier: str | None = Field(None, max_length=20)
    skill_group: str | None = Field(None, max_length=100)
    agent: str | None = Field(None, max_length=200)
    category: str | None = Field(None, max_length=20)
    product_line: str | None = Field(None, max_length=100)


class DrillTicket(BaseModel):
    id: str
    subject: str
    status: str
    priority: str
    tier: str
    skill_group: str
    assignee: str | None
    created_at: datetime


class Drill(BaseModel):
    """Exactly the tickets behind one figure."""

    metric: str
    dimension: str
    group: str
    outcome: str
    tickets: list[DrillTicket]
