"""Alarm tables (alarms, fleet incidents, repeat-fault flags) and the API shapes.

Equipment data stays in these tables and links to tickets by ticket id; the tickets table is
not changed. One active alarm per (serial, code) is the unique partial index
`uq_alarms_active`: the database, not a read before the write, keeps repeats to one row.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from annotated_types import Ge, Le
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    StringConstraints,
    WithJsonSchema,
)
from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from core.columns import UtcDateTime, utcnow
from core.database import Base
from intake_api.limits.text import NO_NUL
from intake_api.pagination import Page
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
# Request shapes: their JSON Schema is the OpenAPI request body, and reading a body is validating
# it against the same model, so what the schema allows is what the service takes. Patterns run on
# Python's `re` (the engine Schemathesis and most clients' validators agree with on `\s`-like
# classes); whitespace is spelled out as the characters `str.strip` removes.
_SPACE = "\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_NAME = f"^[^\x00]*[^\x00{_SPACE}][^\x00]*$"  # no NUL, not blank
VISIBLE = r"^[!-~]+$"  # printable ASCII without spaces: URIs, ids, media types
_STRICT = ConfigDict(regex_engine="python-re", strict=True)
TB_STATUSES: tuple[str, ...] = ("ACTIVE_UNACK", "ACTIVE_ACK", "CLEARED_UNACK", "CLEARED_ACK")
TB_TIME_LIMIT_MS = 32503680000000  # year 3000
_RFC3339 = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})"
)


def _any_case(*words: str) -> str:
    """A pattern matching `words` in any mix of upper and lower case."""
    spelled = ("".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in w) for w in words)
    return f"^(?:{'|'.join(spelled)})$"


def rfc3339(value: Any) -> datetime:
    """An RFC 3339 date-time string (what `format: date-time` means) as an aware UTC datetime;
    not a bare number or a date without time or zone, which a lax parser would guess at. An
    aware datetime (built in code, e.g. from ThingsBoard's milliseconds) is taken as it is."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC)
    match = _RFC3339.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError("expected an RFC 3339 date-time, e.g. 2026-12-06T08:15:00Z")
    day, time, fraction, zone = match.groups()
    moment = datetime.fromisoformat(
        f"{day}T{time}.{(fraction or '0')[:6]:0<6}{'+00:00' if zone in 'Zz' else zone}"
    )
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # within a day of year 1 or 9999: the nearest representable moment
        return (datetime.min if moment.year == 1 else datetime.max).replace(tzinfo=UTC)


def _integer(value: Any) -> int:
    """A JSON integer: `5` or `5.0` (the same number in JSON), not `true` or `"5"`."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("expected an integer")
    return value


def _text(pattern: str, max_length: int = 200) -> StringConstraints:
    return StringConstraints(min_length=1, max_length=max_length, pattern=pattern)


Moment = Annotated[
    datetime, BeforeValidator(rfc3339), WithJsonSchema({"type": "string", "format": "date-time"})
]
# Serials and codes: not blank, kept without surrounding whitespace (a serial must match the
# registry).
Name = Annotated[str, _text(_NAME, 100), AfterValidator(str.strip)]
Text = Annotated[str, _text(NO_NUL)]
Visible = Annotated[str, _text(VISIBLE)]
TbSeverity = Annotated[str, StringConstraints(pattern=_any_case(*SEVERITIES))]
TbStatus = Annotated[str, StringConstraints(pattern=_any_case(*TB_STATUSES))]
# (bounds before the validator, so that the schema states them as `minimum`/`maximum`)
Millis = Annotated[int, Ge(0), Le(TB_TIME_LIMIT_MS), BeforeValidator(_integer)]
ExtensionValue = (
    StrictBool | Annotated[int, Ge(-(2**31)), Le(2**31 - 1), BeforeValidator(_integer)] | StrictStr
)
EXTENSION_NAME = r"^[a-z0-9]+$"


class AlarmIn(BaseModel):
    """The plain alarm body (also CloudEvents `data` and MQTT payloads)."""

    model_config = _STRICT | ConfigDict(extra="forbid", title="Plain alarm")

    serial: Name
    code: Name
    severity: Severity = "major"
    status: Literal["active", "cleared"] = "active"
    occurred_at: Moment | None = None
    details: dict[str, Any] | None = Field(default=None, description="Anything else the unit says.")


class _Named(BaseModel):
    """An object that may name the unit (`name` or `serial`), among other keys."""

    model_config = _STRICT | ConfigDict(extra="allow")


class ThingsBoardOriginator(_Named):
    name: Name | None = None


class ThingsBoardDetails(_Named):
    serial: Name | None = Field(default=None, description="The unit's serial; wins when set.")


def _names_the_unit(schema: dict[str, Any]) -> None:
    """The schema's rule for the serial: `details.serial`, `originatorName` or
    `originator.name` is a string (the first one given is used)."""

    def naming(key: str, inner: str | None = None) -> dict[str, Any]:
        named: dict[str, Any] = {"type": "string"}
        if inner is not None:
            named = {"type": "object", "required": [inner], "properties": {inner: named}}
        return {"required": [key], "properties": {key: named}}

    schema["anyOf"] = [
        naming("details", "serial"),
        naming("originatorName"),
        naming("originator", "name"),
    ]
    schema["not"] = {"required": ["specversion"]}  # that is a structured CloudEvent


class ThingsBoardAlarm(BaseModel):
    """ThingsBoard's alarm JSON as its "REST API call" rule node posts it; ThingsBoard sends
    more keys (id, tenantId, ...), which are taken and ignored."""

    model_config = _STRICT | ConfigDict(
        extra="allow", title="ThingsBoard alarm", json_schema_extra=_names_the_unit
    )

    type: Name = Field(description="The alarm type: the code.")
    originator_name: Name | None = Field(default=None, alias="originatorName")
    originator: ThingsBoardOriginator | None = None
    severity: TbSeverity | None = None
    status: TbStatus | None = None
    start_ts: Millis | None = Field(default=None, alias="startTs")
    created_time: Millis | None = Field(default=None, alias="createdTime")
    details: ThingsBoardDetails | None = None

    def serial(self) -> str | None:
        """`details.serial`, else `originatorName`, else the originator's name."""
        for name in (
            self.details and self.details.serial,
            self.originator_name,
            self.originator and self.originator.name,
        ):
            if name:
                return name
        return None


class CloudEventIn(BaseModel):
    """A CloudEvents 1.0 event in structured JSON mode, the plain alarm as `data`; extension
    attributes are lower-case letters and digits, of a CloudEvents type (boolean, 32-bit
    integer, string)."""

    model_config = _STRICT | ConfigDict(
        extra="allow",
        title="CloudEvent (structured)",
        json_schema_extra={"propertyNames": {"pattern": EXTENSION_NAME}},
    )
    __pydantic_extra__: dict[str, ExtensionValue]

    specversion: Literal["1.0"]
    id: Text
    source: Visible = Field(description="A URI reference.")
    type: Text
    datacontenttype: Visible | None = None
    dataschema: Visible | None = None
    subject: Text | None = None
    time: Moment | None = None
    data: AlarmIn


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


class AlarmBatchAccepted(BaseModel):
    """The answer to a batch of CloudEvents (`application/cloudevents-batch+json`): each alarm
    as stored, in the batch's order."""

    alarms: list[AlarmRead]


class AlarmPage(Page[AlarmRead]):
    """One page of alarms (`intake_api.pagination`)."""


class IncidentRead(BaseModel):
    id: int
    code: str
    status: str
    opened_at: datetime
    last_at: datetime
    units: int
    ticket_ids: list[str]
    serials: list[str]

    @classmethod
    def of(cls, incident: FleetIncident, children: Sequence[tuple[int, str]]) -> IncidentRead:
        """The incident with its (ticket row id, serial) children."""
        return cls(
            id=incident.id,
            code=incident.code,
            status=incident.status,
            opened_at=incident.opened_at,
            last_at=incident.last_at,
            units=len({serial for _, serial in children}),
            ticket_ids=[format_ticket_id(ticket_id) for ticket_id, _ in children],
            serials=[serial for _, serial in children],
        )
