"""Alarm tables (alarms, fleet incidents, repeat-fault flags) and the API shapes.

Equipment data stays in these tables and links to tickets by ticket id; the tickets table is
not changed. One active alarm per (serial, code) is the unique partial index
`uq_alarms_active`: the database, not a read before the write, keeps repeats to one row.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from core.columns import UtcDateTime, utcnow
from core.database import Base
from intake_api.limits.text import limit
from intake_api.tickets.models import format_ticket_id

Severity = Literal["critical", "major", "minor", "warning", "indeterminate"]
SEVERITIES: tuple[str, ...] = ("critical", "major", "minor", "warning", "indeterminate")


class AlarmStatus(StrEnum):
    ACTIVE = "active"
    CLEARED = "cleared"


ACTIVE_ONLY = text("status = 'active'")


class Alarm(Base):
    """One alarm of one unit: repeats while active count up on this row."""

    __tablename__ = "alarms"
    __table_args__ = (
        Index(
            "uq_alarms_active",
            "serial",
            "code",
            unique=True,
            sqlite_where=ACTIVE_ONLY,
            postgresql_where=ACTIVE_ONLY,
        ),
        Index("ix_alarms_serial_code_first_seen", "serial", "code", "first_seen_at"),
        Index("ix_alarms_code_first_seen", "code", "first_seen_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    serial: Mapped[str] = mapped_column(String(100))
    code: Mapped[str] = mapped_column(String(100))
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)
    matched: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    count: Mapped[int] = mapped_column(Integer, default=1)
    source: Mapped[str] = mapped_column(String(16))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL"), nullable=True, index=True
    )
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    first_seen_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    cleared_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # When the customer notice of the alarm's ticket was written (None: not yet, or no ticket).
    notified_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class FleetIncident(Base):
    """One parent incident over the tickets of many units showing the same code at once;
    `open_code` is set while it is open (one open incident per code)."""

    __tablename__ = "fleet_incidents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(100), index=True)
    open_code: Mapped[str | None] = mapped_column(String(100), unique=True, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="open")
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class FleetIncidentTicket(Base):
    """A child ticket of a fleet incident."""

    __tablename__ = "fleet_incident_tickets"

    incident_id: Mapped[int] = mapped_column(
        ForeignKey("fleet_incidents.id", ondelete="CASCADE"), primary_key=True
    )
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    serial: Mapped[str] = mapped_column(String(100))


class RepeatFault(Base):
    """A ticket opened for a unit and code that had a ticket within the repeat window."""

    __tablename__ = "repeat_faults"

    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    previous_ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL"), nullable=True
    )
    serial: Mapped[str] = mapped_column(String(100))
    code: Mapped[str] = mapped_column(String(100))
    flagged_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)


# --- API shapes ----------------------------------------------------------------------------------
class AlarmIn(BaseModel):
    """The plain alarm body (also CloudEvents `data` and MQTT payloads)."""

    model_config = ConfigDict(extra="forbid")

    serial: Annotated[str, limit(100, min_length=1, strip=True)]
    code: Annotated[str, limit(100, min_length=1, strip=True)]
    severity: Severity = "major"
    status: Literal["active", "cleared"] = "active"
    occurred_at: datetime | None = None
    details: dict[str, Any] | None = Field(default=None, description="Anything else the unit says.")

    @field_validator("occurred_at", mode="before")
    @classmethod
    def _iso_time(cls, value: Any) -> Any:
        """An ISO 8601 string (as the schema says), not a bare number of unknown unit."""
        if isinstance(value, int | float):
            raise ValueError("expected an ISO 8601 date-time string")
        return value


class AlarmRead(BaseModel):
    id: str
    serial: str
    code: str
    severity: str
    status: AlarmStatus
    count: int
    matched: bool
    ticket_id: str | None
    source: str
    first_seen_at: datetime
    last_seen_at: datetime
    cleared_at: datetime | None

    @classmethod
    def of(cls, alarm: Alarm) -> AlarmRead:
        return cls(
            id=alarm.id,
            serial=alarm.serial,
            code=alarm.code,
            severity=alarm.severity,
            status=AlarmStatus(alarm.status),
            count=alarm.count,
            matched=alarm.matched,
            ticket_id=format_ticket_id(alarm.ticket_id) if alarm.ticket_id else None,
            source=alarm.source,
            first_seen_at=alarm.first_seen_at,
            last_seen_at=alarm.last_seen_at,
            cleared_at=alarm.cleared_at,
        )


class AlarmAccepted(BaseModel):
    alarm: AlarmRead


class AlarmPage(BaseModel):
    items: list[AlarmRead]
    total: int
    limit: int
    offset: int


class IncidentRead(BaseModel):
    id: int
    code: str
    status: str
    opened_at: datetime
    last_at: datetime
    ticket_ids: list[str]
    serials: list[str]
