"""The outbox table: one row per ticket change to deliver to the backend webhook.

Rows are written in the same transaction as the change they describe (see `outbox.enqueue`), so
a change is never committed without its delivery nor delivered without being committed.
"""

from __future__ import annotations

import enum
from datetime import datetime

from pydantic import BaseModel, ConfigDict
from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.columns import UtcDateTime, utcnow
from core.database import Base
from intake_api.pagination import Page


class DeliveryStatus(enum.StrEnum):
    """Where a row is in its life: waiting (or retrying), done, or given up on."""

    pending = "pending"
    delivered = "delivered"
    dead = "dead"


# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a bigint identity.
_ROW_ID = BigInteger().with_variant(Integer(), "sqlite")


class OutboxEvent(Base):
    """One delivery; `id` orders the events of a ticket (delivered strictly in that order)."""

    __tablename__ = "delivery_outbox"

    id: Mapped[int] = mapped_column(_ROW_ID, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(32), unique=True)
    ticket_id: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text, doc="The exact JSON body POSTed (and signed).")
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.pending)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    locked_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)

    __table_args__ = (
        Index("ix_delivery_outbox_due", "status", "next_attempt_at"),
        Index("ix_delivery_outbox_ticket", "ticket_id", "id"),
    )


class DeliveryRead(BaseModel):
    """A delivery as operators see it (the body is left out: it can hold personal data)."""

    model_config = ConfigDict(from_attributes=True)

    event_id: str
    ticket_id: str
    event: str
    status: DeliveryStatus
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    delivered_at: datetime | None
    last_status_code: int | None
    last_error: str | None


class DeliveryPage(Page[DeliveryRead]):
    """A page of deliveries."""
