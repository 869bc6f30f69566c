"""The agents' background work: the auto-escalation job (every interval, one worker holding a
lease row escalates the open tickets that broke a rule, see `rules`; each ticket in a
transaction of its own) and the CSAT survey sender (`surveys`)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

from fastapi import FastAPI
from sqlalchemy import ColumnElement, exists, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.triage.policy import EscalationLimits, load_policy
from core.columns import utcnow
from core.database import unit_of_work
from core.logs import get_logger
from core.settings import Settings
from intake_api.agents.metrics import ESCALATIONS
from intake_api.agents.models import Escalation, FirstResponse, JobLease
from intake_api.agents.rules import (
    COMPLAINT_OPEN,
    FIRST_RESPONSE_OVERDUE,
    UNRESOLVED,
    TicketClock,
    new_escalations,
    raised,
    rule_note,
)
from intake_api.agents.surveys import SurveySender
from intake_api.events.stream import publish_committed
from intake_api.notifications.observed_bus import ObservedBus
from intake_api.services import services
from intake_api.tickets import service as tickets
from intake_api.tickets.models import (
    FINAL_STATUSES,
    FINISHED_STATUSES,
    Ticket,
    TicketEvent,
    format_ticket_id,
)

log = get_logger(__name__)

JOB = "auto-escalation"
ACTOR = "system:auto-escalation"


def worker_name() -> str:
    """This process, as named in the lease row."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


async def take_lease(
    session: AsyncSession, *, job: str, holder: str, now: datetime, ttl: timedelta
) -> bool:
    """Hold (or keep holding) the job's lease until `now + ttl`; False while another worker's
    lease runs."""
    renewed = await session.execute(
        update(JobLease)
        .where(JobLease.name == job, or_(JobLease.holder == holder, JobLease.expires_at < now))
        .values(holder=holder, expires_at=now + ttl)
    )
    if renewed.rowcount:  # type: ignore[attr-defined]
        return True
    if await session.get(JobLease, job) is not None:
        return False
    try:
        async with session.begin_nested():
            session.add(JobLease(name=job, holder=holder, expires_at=now + ttl))
    except IntegrityError:
        return False
    return True


def _not_fired(rule: str) -> ColumnElement[bool]:
    fired = exists().where(Escalation.ticket_id == Ticket.id, Escalation.rule == rule)
    return ~fired.correlate(Ticket)


def _may_fire(now: datetime, limits: EscalationLimits) -> ColumnElement[bool]:
    """SQL for "some rule not fired yet may fire at `now`" (the rules decide exactly), so
    steady rounds skip tickets already escalated for every rule that applies."""
    unanswered = ~exists().where(FirstResponse.ticket_id == Ticket.id).correlate(Ticket)
    is_open = Ticket.status.not_in(FINISHED_STATUSES)
    return or_(
        is_open & (Ticket.sla_due_at < now) & unanswered & _not_fired(FIRST_RESPONSE_OVERDUE),
        is_open
        & or_(Ticket.created_at <= now - limits.unresolved_after, Ticket.resolution_due_at < now)
        & _not_fired(UNRESOLVED),
        (Ticket.category == "complaint")
        & Ticket.status.not_in(FINAL_STATUSES)
        & (Ticket.created_at <= now - limits.complaint_closed_within)
        & _not_fired(COMPLAINT_OPEN),
    )


async def _candidates(
    session: AsyncSession, now: datetime, limits: EscalationLimits
) -> list[tuple[TicketClock, int, set[str]]]:
    """Tickets that may break a rule at `now`: their clocks, row ids and the rules already
    fired (subqueries, not id lists: a first round may see many tickets)."""
    may_fire = _may_fire(now, limits)
    fired: dict[int, set[str]] = {}
    for number, rule in await session.execute(
        select(Escalation.ticket_id, Escalation.rule).where(
            Escalation.ticket_id.in_(select(Ticket.id).where(may_fire))
        )
    ):
        fired.setdefault(number, set()).add(rule)
    rows = await session.execute(
        select(
            Ticket.id,
            Ticket.status,
            Ticket.category,
            Ticket.priority,
            Ticket.created_at,
            Ticket.sla_due_at,
            Ticket.resolution_due_at,
            FirstResponse.at,
        )
        .outerjoin(FirstResponse, FirstResponse.ticket_id == Ticket.id)
        .where(may_fire)
        .order_by(Ticket.id)
    )
    return [
        (
            TicketClock(
                status=row.status,
                category=row.category,
                priority=row.priority,
                created_at=row.created_at,
                sla_due_at=row.sla_due_at,
                resolution_due_at=row.resolution_due_at,
                first_response_at=row.at,
            ),
            row.id,
            fired.get(row.id, set()),
        )
        for row in rows
    ]


async def _escalate_one(
    sessions: async_sessionmaker[AsyncSession],
    *,
    ticket_id: int,
    public_id: str,
    priority: str,
    rules: list[str],
    now: datetime,
    limits: EscalationLimits,
) -> TicketEvent | None:
    """Record the fired rules and raise the priority in one transaction; None when another
    worker recorded them first."""
    target = raised(priority)
    note = "auto-escalation: " + "; ".join(rule_note(rule, limits) for rule in rules)
    try:
        async with unit_of_work(sessions) as session:
            for rule in rules:
                session.add(
                    Escalation(
                        ticket_id=ticket_id,
                        rule=rule,
                        from_priority=priority,
                        to_priority=target,
                        at=now,
                    )
                )
            await session.flush()
            _, event = await tickets.escalate(
                session, ticket_id=public_id, priority=target, note=note, actor=ACTOR
            )
    except IntegrityError:
        return None
    return event


async def escalate_due(
    sessions: async_sessionmaker[AsyncSession],
    *,
    now: datetime,
    limits: EscalationLimits | None = None,
) -> list[TicketEvent]:
    """Escalate every ticket that broke a rule not fired before; the committed events.
    `limits`: the SLA policy's `escalation` section (default: the bundled policy's)."""
    limits = limits or load_policy(None).escalation
    async with sessions() as session:
        candidates = await _candidates(session, now, limits)
    events = []
    for clock, number, fired in candidates:
        rules = new_escalations(clock, now, fired, limits)
        if not rules:
            continue
        public_id = format_ticket_id(number)
        event = await _escalate_one(
            sessions,
            ticket_id=number,
            public_id=public_id,
            priority=clock.priority,
            rules=rules,
            now=now,
            limits=limits,
        )
        if event is not None:
            events.append(event)
            for rule in rules:
                ESCALATIONS.labels(rule=rule).inc()
            log.info("ticket escalated", ticket_id=public_id, rules=rules)
    return events


async def run_once(app: FastAPI, *, holder: str, now: datetime | None = None) -> list[TicketEvent]:
    """One round: take the lease, escalate, publish the changes; [] when another worker leads."""
    settings: Settings = services(app).settings
    now = now or utcnow()
    ttl = timedelta(seconds=max(3 * settings.escalation_interval_seconds, 30))
    async with unit_of_work(services(app).sessions) as session:
        if not await take_lease(session, job=JOB, holder=holder, now=now, ttl=ttl):
            return []
    limits: EscalationLimits = services(app).sla_policy.escalation
    events = await escalate_due(services(app).sessions, now=now, limits=limits)
    await publish_committed(app, events)
    return events


async def _loop(app: FastAPI, holder: str, interval: float) -> None:
    while True:
        try:
            await run_once(app, holder=holder)
        except Exception as exc:  # a bad round must not stop the next one
            log.warning("auto-escalation round failed", error=repr(exc))
        await asyncio.sleep(interval)


@asynccontextmanager
async def agents_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Run the auto-escalation job and the CSAT survey sender while the app serves (the sender
    hears resolutions from the status notifier once the customer was told, else on the bus)."""
    settings: Settings = services(app).settings
    surveys = SurveySender(app)
    bus = services(app).event_bus
    followers = services(app).after_status_notice
    if followers is not None:  # the survey comes after the "resolved" notice, not before it
        followers.append(surveys.observe)
    else:
        services(app).event_bus = ObservedBus(bus, surveys.observe)
    tasks = [
        asyncio.create_task(
            _loop(app, worker_name(), settings.escalation_interval_seconds), name=JOB
        ),
        asyncio.create_task(surveys.run(), name="csat-surveys"),
    ]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        services(app).event_bus = bus
        if followers is not None:
            followers.remove(surveys.observe)
