"""Alarm operations over a session; the caller owns the transaction.

De-duplication is one statement per batch of alarms: an insert that, on the unique partial
index of active alarms (serial, code), becomes an update of the existing row's count and
last-seen time. Concurrent repeats (other batches, other workers) therefore queue on the index
(PostgreSQL) or the write lock (SQLite) and never make a second active alarm.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, distinct, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from intake_api.alarms.models import (
    ACTIVE_ONLY,
    Alarm,
    AlarmIn,
    AlarmStatus,
    FleetIncident,
    FleetIncidentTicket,
    RepeatFault,
)
from intake_api.assets.models import Asset
from intake_api.pagination import PageRequest
from knowledge_base.graph import normalize_code


def _insert(session: AsyncSession) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql if dialect == "postgresql" else sqlite).insert


async def record_active(
    session: AsyncSession, arrivals: Sequence[tuple[AlarmIn, str, int]], *, now: datetime
) -> list[tuple[Alarm, bool]]:
    """Each (alarm, source, times seen) as its unit's active alarm of the code, new (True) or
    counted up by the times seen (False), in one statement; answers in the order given. The
    alarms must be of distinct (serial, code): one statement may not change a row twice."""
    values = [
        {
            "id": uuid.uuid4().hex,
            "serial": alarm.serial,
            "code": normalize_code(alarm.code),
            "severity": alarm.severity,
            "status": AlarmStatus.ACTIVE.value,
            "matched": False,
            "count": times,
            "source": source,
            "details": alarm.details or {},
            "occurred_at": alarm.occurred_at or now,
            "first_seen_at": now,
            "last_seen_at": now,
        }
        for alarm, source, times in arrivals
    ]
    # Rows in key order: concurrent batches of several workers lock the index in one order.
    values.sort(key=lambda row: (row["serial"], row["code"]))
    insert = _insert(session)(Alarm)
    upsert = insert.on_conflict_do_update(
        index_elements=[Alarm.serial, Alarm.code],
        index_where=ACTIVE_ONLY,
        set_={"count": Alarm.count + insert.excluded.count, "last_seen_at": now},
    ).returning(Alarm)
    rows = await session.scalars(upsert, values, execution_options={"populate_existing": True})
    stored = {(row.serial, row.code): row for row in rows}
    new_ids = {row["id"] for row in values}
    answer = []
    for alarm, _, _ in arrivals:
        row = stored[(alarm.serial, normalize_code(alarm.code))]
        answer.append((row, row.id in new_ids))
    return answer


async def units(session: AsyncSession, serials: Collection[str]) -> dict[str, Asset]:
    """The registered units among `serials`, by serial, in one query."""
    if not serials:
        return {}
    found = await session.scalars(select(Asset).where(Asset.serial.in_(serials)))
    return {asset.serial: asset for asset in found}


async def record_cleared(
    session: AsyncSession, alarm: AlarmIn, *, source: str, now: datetime
) -> tuple[Alarm, bool]:
    """Clear the unit's active alarm of this code (True); without one, keep the clearing as a
    cleared alarm of its own (False)."""
    code = normalize_code(alarm.code)
    cleared = await session.scalar(
        update(Alarm)
        .where(Alarm.serial == alarm.serial, Alarm.code == code, ACTIVE_ONLY)
        .values(status=AlarmStatus.CLEARED.value, cleared_at=now, last_seen_at=now)
        .returning(Alarm),
        execution_options={"populate_existing": True, "synchronize_session": False},
    )
    if cleared is not None:
        return cleared, True
    row = Alarm(
        id=uuid.uuid4().hex,
        serial=alarm.serial,
        code=code,
        severity=alarm.severity,
        status=AlarmStatus.CLEARED.value,
        matched=False,
        count=1,
        source=source,
        details=alarm.details or {},
        occurred_at=alarm.occurred_at or now,
        first_seen_at=now,
        last_seen_at=now,
        cleared_at=now,
    )
    session.add(row)
    return row, False


async def get_all(
    session: AsyncSession, *, status: str | None, page: PageRequest
) -> tuple[list[Alarm], int]:
    """A page of alarms: `active`, `cleared`, `unmatched` (no unit registered) or all."""
    conditions: list[ColumnElement[bool]] = []
    if status == "unmatched":
        conditions.append(Alarm.matched.is_(False))
    elif status is not None:
        conditions.append(Alarm.status == status)
    return await page.fetch(session, select(Alarm).where(*conditions), tiebreak=Alarm.id)


# --- repeat faults ---------------------------------------------------------------------------
async def flag_repeats(
    session: AsyncSession, alarms: Sequence[Alarm], *, within: timedelta
) -> dict[str, int]:
    """Flag each new alarm's ticket when its unit had a ticket for the code within `within`
    (one query for all); answers the earlier tickets' row ids by alarm id. The alarms are new
    and of distinct (serial, code), their tickets set."""
    if not alarms:
        return {}
    since = min(alarm.first_seen_at for alarm in alarms) - within
    earlier = await session.execute(
        select(Alarm.serial, Alarm.code, Alarm.ticket_id, Alarm.first_seen_at)
        .where(
            Alarm.serial.in_({alarm.serial for alarm in alarms}),
            Alarm.code.in_({alarm.code for alarm in alarms}),
            Alarm.id.not_in([alarm.id for alarm in alarms]),
            Alarm.ticket_id.is_not(None),
            Alarm.first_seen_at >= since,
        )
        .order_by(Alarm.first_seen_at)
    )
    latest: dict[tuple[str, str], tuple[int, datetime]] = {}
    for serial, code, ticket_id, seen in earlier.all():
        if ticket_id is not None:  # (it is: the query says so)
            latest[serial, code] = (ticket_id, seen)  # ordered: the latest one stays
    flagged: dict[str, int] = {}
    for alarm in alarms:
        previous = latest.get((alarm.serial, alarm.code))
        if previous is None or previous[1] < alarm.first_seen_at - within:
            continue
        assert alarm.ticket_id is not None
        flagged[alarm.id] = previous[0]
        session.add(
            RepeatFault(
                ticket_id=alarm.ticket_id,
                previous_ticket_id=previous[0],
                serial=alarm.serial,
                code=alarm.code,
                flagged_at=alarm.first_seen_at,
            )
        )
    return flagged


async def serial_of_ticket(session: AsyncSession, ticket_id: int) -> str | None:
    """The serial of the unit whose alarm opened the ticket, if an alarm did."""
    return await session.scalar(select(Alarm.serial).where(Alarm.ticket_id == ticket_id).limit(1))


# --- fleet incidents -------------------------------------------------------------------------
async def join_fleet_incident(
    session: AsyncSession, alarms: Sequence[Alarm], *, units: int, window: timedelta
) -> FleetIncident | None:
    """When at least `units` units show the code of `alarms` (new, of one code, seen at one
    moment, their tickets set) within `window`, the code's open incident holds their
    tickets; the batch that reaches the count opens it over every such unit's ticket. Units
    are counted only while no incident is open (one indexed count)."""
    code, now = alarms[0].code, max(alarm.first_seen_at for alarm in alarms)
    since = now - window
    incident = await _fresh_incident(session, code, since=since)
    if incident is not None:
        session.add_all(
            FleetIncidentTicket(
                incident_id=incident.id, ticket_id=alarm.ticket_id, serial=alarm.serial
            )
            for alarm in alarms
        )
    else:
        recent = and_(
            Alarm.code == code, Alarm.first_seen_at >= since, Alarm.ticket_id.is_not(None)
        )
        count = await session.scalar(select(func.count(distinct(Alarm.serial))).where(recent))
        if (count or 0) < units:
            return None
        incident = await _open_incident(session, code, now=now)
        linked = set(
            await session.scalars(
                select(FleetIncidentTicket.ticket_id).where(
                    FleetIncidentTicket.incident_id == incident.id
                )
            )
        )
        children = await session.execute(select(Alarm.serial, Alarm.ticket_id).where(recent))
        for serial, ticket_id in children.all():
            if ticket_id is not None and ticket_id not in linked:
                session.add(
                    FleetIncidentTicket(incident_id=incident.id, ticket_id=ticket_id, serial=serial)
                )
                linked.add(ticket_id)
    incident.last_at = now
    return incident


async def _fresh_incident(
    session: AsyncSession, code: str, *, since: datetime
) -> FleetIncident | None:
    """The code's open incident; one gone quiet for the whole window is closed instead."""
    incident = await session.scalar(select(FleetIncident).where(FleetIncident.open_code == code))
    if incident is not None and incident.last_at < since:
        incident.status, incident.open_code = "closed", None
        await session.flush()
        return None
    return incident


async def _open_incident(session: AsyncSession, code: str, *, now: datetime) -> FleetIncident:
    """Open the code's incident; two alarms doing it at once end up with the same one."""
    await session.execute(
        _insert(session)(FleetIncident)
        .values(code=code, open_code=code, status="open", opened_at=now, last_at=now)
        .on_conflict_do_nothing(index_elements=[FleetIncident.open_code])
    )
    incident = await session.scalar(select(FleetIncident).where(FleetIncident.open_code == code))
    assert incident is not None  # inserted by this transaction or a committed one
    return incident


async def incidents(
    session: AsyncSession, *, status: str | None, limit: int = 50
) -> list[tuple[FleetIncident, Sequence[tuple[int, str]]]]:
    """Fleet incidents, newest first, each with its (ticket id, serial) children."""
    query = select(FleetIncident).order_by(FleetIncident.id.desc()).limit(limit)
    if status is not None:
        query = query.where(FleetIncident.status == status)
    found: list[tuple[FleetIncident, Sequence[tuple[int, str]]]] = []
    for incident in await session.scalars(query):
        children = await session.execute(
            select(FleetIncidentTicket.ticket_id, FleetIncidentTicket.serial)
            .where(FleetIncidentTicket.incident_id == incident.id)
            .order_by(FleetIncidentTicket.ticket_id)
        )
        found.append((incident, [(row[0], row[1]) for row in children.all()]))
    return found
