"""`AlarmDesk`: one alarm in, stored, de-duplicated and turned into a ticket, in one transaction.

A new active alarm of a registered unit opens a ticket through the tickets domain's creation
path (triage, event, audit and outbox row in the same transaction), with the unit's product,
the KB fault of the code on that product and its diagnosis; it is flagged when the unit had the
same code within the repeat window, and joins a fleet incident when many units show the code.
A repeat only counts up. A clearing updates the ticket (resolve, or a note asking an agent to
verify: `AFTERSALES_ALARM_CLEARED_ACTION`). After the commit the ticket events are published
and the customer's contacts are told (`notices.AlarmNotices`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.triage import SlaPolicy
from core.columns import utcnow
from core.database import Sessions, unit_of_work
from core.settings import Settings
from intake_api.alarms import service
from intake_api.alarms.diagnosis import FaultFinder, ticket_description, ticket_subject
from intake_api.alarms.models import Alarm, AlarmIn, AlarmRead, AlarmStatus
from intake_api.assets import service as assets
from intake_api.assets.models import Asset
from intake_api.tickets import service as tickets
from intake_api.tickets.models import (
    FINISHED_STATUSES,
    Customer,
    TicketCreate,
    TicketEvent,
    TicketStatus,
    TicketUpdate,
    format_ticket_id,
)
from knowledge_base.graph import KnowledgeGraph

ALARM_ACTOR = "alarms"
CLEARED_NOTES = {
    "resolve": "Alarm {code} cleared by the unit at {at}: resolved.",
    "verify": "Alarm {code} cleared by the unit at {at}: please verify with the customer.",
}
REPEAT_NOTE = "Repeat fault: {previous} had the same unit and code within {days:g} days."


@dataclass
class Outcome:
    """What one alarm did, for the work after the commit."""

    alarm: Alarm
    events: list[TicketEvent] = field(default_factory=list)
    new_ticket: bool = False


class AlarmDesk:
    """Takes alarms from every source (HTTP forms, MQTT) the same way."""

    def __init__(
        self,
        *,
        sessions: Sessions,
        settings: Settings,
        policy: SlaPolicy,
        graph: Callable[[], KnowledgeGraph],
        write_lock: asyncio.Lock | None,
        publish: Callable[[list[TicketEvent]], Awaitable[None]],
        notify: Callable[[Alarm], Awaitable[None]],
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.policy = policy
        self.graph = graph  # the KB's current graph (swapped on a KB import)
        self.write_lock = write_lock  # SQLite: this process's ticket changes queue here
        self.publish = publish
        self.notify = notify
        self.faults = FaultFinder()

    @asynccontextmanager
    async def _unit(self) -> AsyncIterator[AsyncSession]:
        """One transaction; on SQLite queued behind this process's ticket changes."""
        async with self.write_lock or nullcontext(), unit_of_work(self.sessions) as session:
            yield session

    async def receive(self, alarm: AlarmIn, *, source: str) -> AlarmRead:
        """Store the alarm and everything it causes; answers it as stored."""
        async with self._unit() as session:
            if alarm.status == AlarmStatus.CLEARED:
                outcome = await self._cleared(session, alarm, source)
            else:
                outcome = await self._active(session, alarm, source)
            read = AlarmRead.of(outcome.alarm)
        await self.publish(outcome.events)
        if outcome.new_ticket:
            await self.notify(outcome.alarm)
        return read

    async def _active(self, session: AsyncSession, alarm: AlarmIn, source: str) -> Outcome:
        now = utcnow()
        row, new = await service.record_active(session, alarm, source=source, now=now)
        outcome = Outcome(row)
        if not new:
            return outcome
        asset = await assets.find(session, serial=row.serial)
        if asset is None:
            return outcome  # unmatched: kept, listed, no ticket
        row.matched = True
        await self._open_ticket(session, row, asset, outcome)
        return outcome

    async def _open_ticket(
        self, session: AsyncSession, alarm: Alarm, asset: Asset, outcome: Outcome
    ) -> None:
        settings = self.settings
        graph = self.graph()
        fault_id = self.faults.find(graph, alarm.code, asset.product_id)
        contact = asset.contacts[0] if asset.contacts else None
        data = TicketCreate(
            subject=ticket_subject(graph, alarm, asset, fault_id)[:300],
            description=ticket_description(graph, alarm, asset, fault_id),
            customer=Customer(
                name=asset.customer_name,
                phone=asset.customer_phone,
                tier=asset.customer_tier,
            ),
            product_id=asset.product_id,
            fault_id=fault_id,
            category="repair",
            priority=self.policy.alarms.priority_of(alarm.severity, asset.customer_tier),
            channel=contact.channel if contact else None,
            sender_id=contact.sender_id if contact else None,
            lang=asset.lang,
        )
        ticket, event = await tickets.create(
            session, data=data, actor=ALARM_ACTOR, policy=self.policy
        )
        alarm.ticket_id = ticket.id
        outcome.events.append(event)
        outcome.new_ticket = True
        await session.flush()
        within = timedelta(days=settings.repeat_fault_days)
        previous = await service.flag_repeat(session, alarm, ticket_id=ticket.id, within=within)
        if previous is not None:
            note = REPEAT_NOTE.format(
                previous=format_ticket_id(previous), days=settings.repeat_fault_days
            )
            outcome.events.append(await self._note(session, ticket.public_id, note))
        await service.join_fleet_incident(
            session,
            alarm,
            units=settings.fleet_incident_units,
            window=timedelta(minutes=settings.fleet_incident_window_minutes),
        )

    async def _cleared(self, session: AsyncSession, alarm: AlarmIn, source: str) -> Outcome:
        now = utcnow()
        row, was_active = await service.record_cleared(session, alarm, source=source, now=now)
        outcome = Outcome(row)
        if not was_active:
            row.matched = await assets.find(session, serial=row.serial) is not None
            return outcome
        if row.ticket_id is None:
            return outcome
        ticket_id = format_ticket_id(row.ticket_id)
        ticket = await tickets.get(session, ticket_id=ticket_id)
        if TicketStatus(ticket.status) in FINISHED_STATUSES:
            return outcome
        action = self.settings.alarm_cleared_action
        note = CLEARED_NOTES[action].format(code=row.code, at=now.isoformat(timespec="seconds"))
        if action == "verify":
            outcome.events.append(await self._note(session, ticket_id, note))
            return outcome
        if ticket.status == TicketStatus.NEW.value:  # new -> resolved goes through triaged
            outcome.events.append(await self._move(session, ticket_id, TicketStatus.TRIAGED, None))
        outcome.events.append(await self._move(session, ticket_id, TicketStatus.RESOLVED, note))
        return outcome

    @staticmethod
    async def _move(
        session: AsyncSession, ticket_id: str, status: TicketStatus, note: str | None
    ) -> TicketEvent:
        _, event = await tickets.update_ticket(
            session,
            ticket_id=ticket_id,
            data=TicketUpdate(status=status, note=note),
            actor=ALARM_ACTOR,
        )
        assert event is not None  # a move is always a change
        return event

    @staticmethod
    async def _note(session: AsyncSession, ticket_id: str, note: str) -> TicketEvent:
        _, event = await tickets.update_ticket(
            session, ticket_id=ticket_id, data=TicketUpdate(note=note), actor=ALARM_ACTOR
        )
        assert event is not None
        return event
