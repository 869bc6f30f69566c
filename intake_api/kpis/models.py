"""The shape of `GET /v1/kpis`: every figure over one time window, with its definition."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class AiHandling(BaseModel):
    """Conversations the bot saw through alone: never handed off, no agent action, no ticket."""

    conversations: int
    bot_only: int
    share: float | None


class FirstResponse(BaseModel):
    """Seconds from ticket creation to a person's first reply (tickets answered so far)."""

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


class CsatSummary(BaseModel):
    count: int
    avg: float | None
    distribution: dict[str, int]


class RepeatFaults(BaseModel):
    """Tickets whose customer reported the same fault (or product, without a fault id) in the
    30 days before."""

    tickets_with_fault: int
    repeats: int
    share: float | None


class Volume(BaseModel):
    conversations_by_channel: dict[str, int]
    tickets_by_channel: dict[str, int]
    tickets_by_category: dict[str, int]


class Kpis(BaseModel):
    start: datetime = Field(serialization_alias="from")
    end: datetime = Field(serialization_alias="to")
    tickets: int
    ai_handling: AiHandling
    first_response: FirstResponse
    first_contact_resolution: FirstContactResolution
    sla: dict[str, SlaCompliance] = Field(description="Per priority P1..P4 and `all`.")
    csat: CsatSummary
    repeat_faults: RepeatFaults
    volume: Volume
