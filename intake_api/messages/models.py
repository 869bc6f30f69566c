"""Inbound customer messages: stored before the bot runs, with the answer the caller got.

The message itself is `core.messages.InboundMessage`; this is its row. The unique
`channel`+`message_id` makes a channel's retry (or a concurrent duplicate) land on
the first row, whose stored response is returned instead of running the bot twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.columns import UtcDateTime, utcnow
from core.database import Base

STATUS_RECEIVED = "received"
STATUS_PROCESSING = "processing"
STATUS_ANSWERED = "answered"
STATUS_FAILED = "failed"


class StoredMessage(Base):
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
    attachments: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default=STATUS_RECEIVED)
    conversation_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
