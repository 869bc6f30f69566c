"""Inbound customer messages: stored before the bot runs, with the answer the caller got.

The unique `channel`+`message_id` makes a channel's retry (or a concurrent duplicate) land on
the first row, whose stored response is returned instead of running the bot twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import JSON, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from intake_api.audit.columns import UtcDateTime, utcnow
from intake_api.storage.base import Base

STATUS_RECEIVED = "received"
STATUS_PROCESSING = "processing"
STATUS_ANSWERED = "answered"
STATUS_FAILED = "failed"

MAX_TEXT_CHARS = 4000


class InboundMessage(Base):
    """One message as a channel delivered it, and what the service answered."""

    __tablename__ = "inbound_messages"
    __table_args__ = (UniqueConstraint("channel", "message_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[str] = mapped_column(String(200))
    sender_id: Mapped[str] = mapped_column(String(200), index=True)
    text: Mapped[str] = mapped_column(Text)
    lang: Mapped[str | None] = mapped_column(String(8), nullable=True)
    customer: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default=STATUS_RECEIVED)
    conversation_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class CustomerIn(BaseModel):
    """What a channel knows about the sender."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    tier: Literal["strategic", "key", "standard"] | None = None


class MessageIn(BaseModel):
    """The body of `POST /v1/messages`."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    channel: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")
    sender_id: str = Field(min_length=1, max_length=200)
    message_id: str = Field(min_length=1, max_length=200)
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    lang: Literal["zh", "en"] | None = None
    customer: CustomerIn | None = None

    @field_validator("lang", mode="before")
    @classmethod
    def _lang_family(cls, value: object) -> object:
        """Accept regional tags (`zh-TW`, `en_US`) and keep the language family."""
        if isinstance(value, str) and value:
            return value.replace("_", "-").split("-", 1)[0].lower()
        return value


class ReplyOut(BaseModel):
    text: str


class IntentOut(BaseModel):
    name: str
    confidence: float


class EntityOut(BaseModel):
    type: str
    value: str


class KbHitOut(BaseModel):
    id: str
    type: str
    score: float
    title: str | None = None


class MessageOut(BaseModel):
    """The answer to `POST /v1/messages` (see the contract)."""

    conversation_id: str
    action: Literal[
        "answer", "clarify", "collect", "ticket", "status", "handoff", "smalltalk", "fallback"
    ]
    replies: list[ReplyOut]
    intent: IntentOut
    entities: list[EntityOut]
    kb_hits: list[KbHitOut]
    ticket: dict[str, Any] | None = None
    tickets: list[dict[str, Any]] = Field(default_factory=list)
    lang: str
    message_id: str
    duplicate: bool = False
