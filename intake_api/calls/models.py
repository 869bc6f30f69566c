"""Phone calls: each transcript is stored (first, under its unique `call_id`) with the
conversation and the ticket it made and the answer the caller of the API got."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.columns import UtcDateTime, utcnow
from core.database import Base

STATUS_RECEIVED = "received"
STATUS_ANSWERED = "answered"


class PhoneCall(Base):
    """A call's transcript, linked to what it made."""

    __tablename__ = "phone_calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(200), unique=True)
    caller: Mapped[str | None] = mapped_column(String(200), nullable=True)
    format: Mapped[str] = mapped_column(String(8))
    segments: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=STATUS_RECEIVED)
    conversation_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    ticket_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class TranscriptOut(BaseModel):
    """What a call made: a ticket, or a conversation the bot answered."""

    call_id: str
    conversation_id: str
    action: str
    ticket: dict[str, Any] | None = None
    replies: list[dict[str, str]]
    intent: dict[str, Any] | None = None
    entities: list[dict[str, str]] = Field(default_factory=list)
    kb_hits: list[dict[str, Any]] = Field(default_factory=list)
    format: str
    segments: int
    duplicate: bool = False
