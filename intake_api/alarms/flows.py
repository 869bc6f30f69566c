"""`AlarmDesk`: alarms in, stored, de-duplicated and turned into tickets, a batch per transaction.

Every source (the HTTP forms, the MQTT subscriber) hands its alarm to the desk and waits; one
writer task per process takes whatever is queued (up to `BATCH_SIZE`) and stores it in one
transaction (group commit): the active alarms of the batch in one upsert (repeats inside the
batch counted together, repeats of stored alarms counted up by the unique index), the units of
the new ones in one query. Each caller gets its answer only after the commit, so an HTTP 202 or
an MQTT PUBACK always means stored. A batch that fails is stored again one alarm at a time, so
one bad alarm fails only its own caller.

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
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.triage import SlaPolicy
from core.columns import utcnow
from core.database import Sessions, unit_of_work
from core.logs import get_logger
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
from knowledge_base.graph import KnowledgeGraph, normalize_code

log = get_logger(__name__)

# Alarms stored in one transaction at most: enough to carry a burst, small enough that a
# batch's commit stays well under the lag goal.
BATCH_SIZE = 200

ALARM_ACTOR = "alarms"
CLEARED_NOTES = {
    "resolve": "Alarm {code} cleared by the unit at {at}: resolved.",
    "verify": "Alarm {code} cleared by the unit at {at}: please verify with the customer.",
}
REPEAT_NOTE = "Repeat fault: {previous} had the same unit and code within {days:g} days."


@asynccontextmanager
async def write_unit(sessions: Sessions, lock: asyncio.Lock | None) -> AsyncIterator[AsyncSession]:
    """One transaction; on SQLite queued behind this process's ticket changes (`lock`), so
    that writers wait in order here rather than in SQLite's busy-retry sleeps."""
    async with lock or nullcontext(), unit_of_work(sessions) as session:
        yield session


@dataclass
class Arrival:
    """One caller's alarm, waiting for its batch's commit."""

    alarm: AlarmIn
    source: str
    answer: asyncio.Future[AlarmRead]


@dataclass
class Outcome:
    """What one alarm did: its answer, and the work after the commit."""

    alarm: Alarm
    read: AlarmRead
    events: list[TicketEvent] = field(default_factory=list)
    new_ticket: bool = False


class AlarmDesk:
    """Takes alarms from every source (HTTP forms, MQTT) the same way; `run` is the writer."""

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
        self._arrivals: asyncio.Queue[Arrival] = asyncio.Queue()

    async def receive(self, alarm: AlarmIn, *, source: str) -> AlarmRead:
        """Store the alarm and everything it causes; answers it as stored (after the commit)."""
        return (await self.receive_many([alarm], source=source))[0]

    async def receive_many(self, alarms: list[AlarmIn], *, source: str) -> list[AlarmRead]:
        """Each alarm stored as if it came alone (queued together, so they share the writer's
        batches), answered in their order once stored."""
        loop = asyncio.get_running_loop()
        arrivals = [Arrival(alarm, source, loop.create_future()) for alarm in alarms]
        for arrival in arrivals:
            self._arrivals.put_nowait(arrival)
        return list(await asyncio.gather(*(arrival.answer for arrival in arrivals)))

    async def run(self) -> None:
        """The writer, until cancelled: whatever is queued, up to `BATCH_SIZE`, per transaction
        (while one batch commits, the next one gathers)."""
        batch: list[Arrival] = []
        try:
            while True:
                batch = [await self._arrivals.get()]
                while len(batch) < BATCH_SIZE and not self._arrivals.empty():
                    batch.append(self._arrivals.get_nowait())
                try:
                    await self._write(batch)
                except Exception as exc:  # publishing or queueing notices: the writer goes on
                    log.warning("alarm batch follow-up failed", size=len(batch), error=repr(exc))
                    for arrival in batch:
                        if not arrival.answer.done():
                            arrival.answer.set_exception(exc)
        finally:  # stopping: nobody waits for an answer that will never come
            while not self._arrivals.empty():
                batch.append(self._arrivals.get_nowait())
            for arrival in batch:
                arrival.answer.cancel()

    async def _write(self, batch: list[Arrival]) -> None:
        """Store the batch in one transaction, then answer its callers, publish the ticket
        events and queue the notices; a failed batch is stored again one alarm at a time."""
        try:
            async with write_unit(self.sessions, self.write_lock) as session:
                outcomes = await self._stored(session, batch)
        except Exception as exc:
            if len(batch) == 1:
                if not batch[0].answer.done():
                    batch[0].answer.set_exception(exc)
                return
            log.warning("alarm batch not stored, one by one now", size=len(batch), error=repr(exc))
            for arrival in batch:
                await self._write([arrival])
            return
        for arrival, outcome in zip(batch, outcomes, strict=True):
            if not arrival.answer.done():  # a caller that gave up (client gone) is skipped
                arrival.answer.set_result(outcome.read)
        await self.publish([event for outcome in outcomes for event in outcome.events])
        for outcome in outcomes:
            if outcome.new_ticket:
                await self.notify(outcome.alarm)

    async def _stored(self, session: AsyncSession, batch: list[Arrival]) -> list[Outcome]:
        """The batch's outcomes in its order: runs of active alarms set-based, a clearing on
        its own between them (it ends the active alarm the run before it may have counted)."""
        outcomes: list[Outcome] = []
        run: list[Arrival] = []
        for arrival in batch:
            if arrival.alarm.status == AlarmStatus.CLEARED:
                outcomes += await self._active(session, run)
                run = []
                outcomes.append(await self._cleared(session, arrival.alarm, arrival.source))
            else:
                run.append(arrival)
        return outcomes + await self._active(session, run)

    async def _active(self, session: AsyncSession, run: Sequence[Arrival]) -> list[Outcome]:
        """Active alarms: one upsert for the run, the tickets of the new ones of known units
        opened together; the n-th of k repeats of one alarm in the run answers the count it
        made."""
        if not run:
            return []
        keys: dict[tuple[str, str], list[int]] = {}
        for index, arrival in enumerate(run):
            key = (arrival.alarm.serial, normalize_code(arrival.alarm.code))
            keys.setdefault(key, []).append(index)
        firsts = [(run[at[0]].alarm, run[at[0]].source, len(at)) for at in keys.values()]
        stored = await service.record_active(session, firsts, now=utcnow())
        known = await service.units(session, {row.serial for row, new in stored if new})
        # a new alarm of an unknown unit is kept unmatched: no ticket
        opening = [(row, known[row.serial]) for row, new in stored if new and row.serial in known]
        events = await self._open_tickets(session, opening)
        outcomes: list[Outcome | None] = [None] * len(run)
        for (row, _), indices in zip(stored, keys.values(), strict=True):
            read = AlarmRead.of(row)
            for seen, index in enumerate(indices):
                count = row.count - (len(indices) - 1 - seen)
                first = seen == 0
                outcomes[index] = Outcome(
                    row,
                    read.model_copy(update={"count": count}),
                    events.get(row.id, []) if first else [],
                    new_ticket=first and row.id in events,
                )
        return [outcome for outcome in outcomes if outcome is not None]

    async def _open_tickets(
        self, session: AsyncSession, opening: Sequence[tuple[Alarm, Asset]]
    ) -> dict[str, list[TicketEvent]]:
        """The tickets of new alarms (one insert), flagged as repeat faults, joined to fleet
        incidents (one check per code); answers their events by alarm id."""
        if not opening:
            return {}
        settings = self.settings
        created = await tickets.create_many(
            session,
            [self._ticket(alarm, asset) for alarm, asset in opening],
            actor=ALARM_ACTOR,
            policy=self.policy,
        )
        events: dict[str, list[TicketEvent]] = {}
        by_code: dict[str, list[Alarm]] = {}
        for (alarm, _), (ticket, event) in zip(opening, created, strict=True):
            alarm.matched, alarm.ticket_id = True, ticket.id
            events[alarm.id] = [event]
            by_code.setdefault(alarm.code, []).append(alarm)
        alarms = [alarm for alarm, _ in opening]
        within = timedelta(days=settings.repeat_fault_days)
        flagged = await service.flag_repeats(session, alarms, within=within)
        for alarm, ticket in zip(alarms, (ticket for ticket, _ in created), strict=True):
            if alarm.id in flagged:
                note = REPEAT_NOTE.format(
                    previous=format_ticket_id(flagged[alarm.id]), days=settings.repeat_fault_days
                )
                events[alarm.id].append(await self._note(session, ticket.public_id, note))
        window = timedelta(minutes=settings.fleet_incident_window_minutes)
        for same_code in by_code.values():
            await service.join_fleet_incident(
                session, same_code, units=settings.fleet_incident_units, window=window
            )
        return events

    def _ticket(self, alarm: Alarm, asset: Asset) -> TicketCreate:
        """The ticket of a new alarm: the unit's product and customer, the KB's diagnosis of
        the code on that product, priority from severity and tier."""
        graph = self.graph()
        fault_id = self.faults.find(graph, alarm.code, asset.product_id)
        contact = asset.contacts[0] if asset.contacts else None
        return TicketCreate(
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

    async def _cleared(self, session: AsyncSession, alarm: AlarmIn, source: str) -> Outcome:
        now = utcnow()
        row, was_active = await service.record_cleared(session, alarm, source=source, now=now)
        if not was_active:  # a clearing of no active alarm is kept as it came
            row.matched = await assets.find(session, serial=row.serial) is not None
        outcome = Outcome(row, AlarmRead.of(row))
        if not was_active or row.ticket_id is None:
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
