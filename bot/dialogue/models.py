"""Conversation tables: one live conversation per channel+sender and the history of its turns.

The live conversation carries the dialogue state as JSON so that any worker, after any restart,
continues where the last message left off.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.columns import UtcDateTime, utcnow
from core.database import Base

CONVERSATION_OPEN = "open"
CONVERSATION_HANDOFF = "handoff"
CONVERSATION_CLOSED = "closed"


class Conversation(Base):
    """A customer's conversation on one channel; `live_key` is set only while it is not closed,
    so the unique index allows one live conversation per channel+sender and any number of old ones.
    """

    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel: Mapped[str] = mapped_column(String(64), index=True)
    sender_id: Mapped[str] = mapped_column(String(200), index=True)
    live_key: Mapped[str | None] = mapped_column(String(300), unique=True, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default=CONVERSATION_OPEN)
    lang: Mapped[str] = mapped_column(String(8), default="zh")
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    slots: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    customer: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    __mapper_args__ = {"version_id_col": version}


class ConversationMessage(Base):
    """One line of a conversation's history: the customer's text or one bot reply."""

    __tablename__ = "conversation_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    direction: Mapped[str] = mapped_column(String(8))  # "in" (customer) or "out" (bot)
    text: Mapped[str] = mapped_column(Text)
    action: Mapped[str | None] = mapped_column(String(16), nullable=True)
    message_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # The person who wrote an outgoing line (an agent's display name), None for the bot's own.
    author: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
