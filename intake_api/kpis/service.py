"""KPIs over the window [start, end): each figure read from the tables of its domain.

Tickets and conversations count in the window they were created in; CSAT answers in the window
they were given. Rates are None when nothing counts toward them.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.dialogue.models import CONVERSATION_HANDOFF, Conversation, ConversationMessage
from bot.triage.policy import PRIORITIES
from intake_api.agents.models import AgentActivity, Csat, FirstResponse
from intake_api.kpis import models
from intake_api.tickets.models import OPEN_STATUSES, Ticket, TicketEvent

REPEAT_WITHIN = timedelta(days=30)
NO_CHANNEL = "api"  # tickets opened through the API name no channel


def ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass(frozen=True)
class TicketFacts:
    """One ticket as the KPIs see it."""

    id: int
    created_at: datetime
    status: str
    priority: str
    category: str
    channel: str | None
    conversation_id: str | None
    customer: str | None
    fault: str | None
    sla_due_at: datetime
    resolution_due_at: datetime
    resolved_at: datetime | None
    first_response_at: datetime | None


def _customer_key(
    phone: str | None, email: str | None, channel: str | None, sender: str | None
) -> str | None:
    if phone or email:
        return f"contact:{phone or ''}|{email or ''}"
    return f"sender:{channel}|{sender}" if sender else None


def _fault_key(product_id: str | None, fault_id: str | None) -> str | None:
    if fault_id:
        return f"fault:{fault_id}"
    return f"product:{product_id}" if product_id else None


def _created_in(start: datetime, end: datetime) -> ColumnElement[bool]:
    return and_(Ticket.created_at >= start, Ticket.created_at < end)


async def _ticket_facts(session: AsyncSession, start: datetime, end: datetime) -> list[TicketFacts]:
    """The window's tickets, read as plain columns (no ORM objects: windows can be large)."""
    rows = await session.execute(
        select(
            Ticket.id,
            Ticket.created_at,
            Ticket.status,
            Ticket.priority,
            Ticket.category,
            Ticket.channel,
            Ticket.conversation_id,
            Ticket.customer_phone,
            Ticket.customer_email,
            Ticket.sender_id,
            Ticket.product_id,
            Ticket.fault_id,
            Ticket.sla_due_at,
            Ticket.resolution_due_at,
            Ticket.resolved_at,
            Ticket.closed_at,
            FirstResponse.at,
        )
        .outerjoin(FirstResponse, FirstResponse.ticket_id == Ticket.id)
        .where(_created_in(start, end))
        .order_by(Ticket.created_at, Ticket.id)
    )
    return [
        TicketFacts(
            id=row[0],
            created_at=row[1],
            status=row[2],
            priority=row[3],
            category=row[4],
            channel=row[5],
            conversation_id=row[6],
            customer=_customer_key(row[7], row[8], row[5], row[9]),
            fault=_fault_key(row[10], row[11]),
            sla_due_at=row[12],
            resolution_due_at=row[13],
            resolved_at=row[14] or (row[15] if row[2] == "closed" else None),
            first_response_at=row[16],
        )
        for row in rows
    ]


def first_response(facts: list[TicketFacts]) -> models.FirstResponse:
    waits = [
        (t.first_response_at - t.created_at).total_seconds()
        for t in facts
        if t.first_response_at is not None
    ]
    return models.FirstResponse(
        count=len(waits),
        p50_seconds=round(statistics.median(waits), 3) if waits else None,
        avg_seconds=round(statistics.fmean(waits), 3) if waits else None,
    )


def _judge(done_at: datetime | None, due: datetime, now: datetime) -> bool | None:
    """True when met, False when breached, None while still in time."""
    if done_at is not None:
        return done_at <= due
    return False if now > due else None


def _compliance(verdicts: list[bool | None]) -> models.Compliance:
    met, breached = verdicts.count(True), verdicts.count(False)
    return models.Compliance(met=met, breached=breached, rate=ratio(met, met + breached))


def sla_compliance(facts: list[TicketFacts], now: datetime) -> dict[str, models.SlaCompliance]:
    """Response (a person's first reply, or the resolution) and resolution against the due
    times, per priority and over all; cancelled tickets do not count."""
    counted = [t for t in facts if t.status != "cancelled"]
    result = {}
    for group in (*PRIORITIES, "all"):
        tickets = [t for t in counted if group in ("all", t.priority)]
        responses = [
            _judge(
                min(filter(None, (t.first_response_at, t.resolved_at)), default=None),
                t.sla_due_at,
                now,
            )
            for t in tickets
        ]
        resolutions = [_judge(t.resolved_at, t.resolution_due_at, now) for t in tickets]
        result[group] = models.SlaCompliance(
            response=_compliance(responses), resolution=_compliance(resolutions)
        )
    return result


Sighting = tuple[str, str, datetime]  # customer key, fault key, when the ticket was opened


def repeat_faults(sightings: list[Sighting], start: datetime) -> models.RepeatFaults:
    """Tickets opened from `start` on whose customer opened one for the same fault in the 30
    days before; `sightings` are in time order and reach 30 days back from `start`."""
    last_seen: dict[tuple[str, str], datetime] = {}
    with_fault = repeats = 0
    for customer, fault, created_at in sightings:
        previous = last_seen.get((customer, fault))
        if created_at >= start:
            with_fault += 1
            if previous is not None and created_at - previous <= REPEAT_WITHIN:
                repeats += 1
        last_seen[(customer, fault)] = created_at
    return models.RepeatFaults(
        tickets_with_fault=with_fault, repeats=repeats, share=ratio(repeats, with_fault)
    )


async def _sightings_before(session: AsyncSession, start: datetime) -> list[Sighting]:
    """Customer and fault of the tickets of the 30 days before `start` (only those columns)."""
    rows = await session.execute(
        select(
            Ticket.customer_phone,
            Ticket.customer_email,
            Ticket.channel,
            Ticket.sender_id,
            Ticket.product_id,
            Ticket.fault_id,
            Ticket.created_at,
        )
        .where(_created_in(start - REPEAT_WITHIN, start))
        .where(or_(Ticket.fault_id.is_not(None), Ticket.product_id.is_not(None)))
        .order_by(Ticket.created_at, Ticket.id)
    )
    sightings = []
    for phone, email, channel, sender, product_id, fault_id, created_at in rows:
        customer = _customer_key(phone, email, channel, sender)
        fault = _fault_key(product_id, fault_id)
        if customer and fault:
            sightings.append((customer, fault, created_at))
    return sightings


def _sightings(facts: list[TicketFacts]) -> list[Sighting]:
    return [(t.customer, t.fault, t.created_at) for t in facts if t.customer and t.fault]


async def _first_contact_resolution(
    session: AsyncSession, facts: list[TicketFacts], start: datetime, end: datetime
) -> models.FirstContactResolution:
    resolved = [t for t in facts if t.resolved_at is not None]
    in_window = select(Ticket.id).where(_created_in(start, end))
    reopened = set(
        await session.scalars(
            select(TicketEvent.ticket_id)
            .where(
                TicketEvent.ticket_id.in_(in_window),
                TicketEvent.previous_status == "resolved",
                TicketEvent.status.in_(OPEN_STATUSES),  # reopened
            )
            .distinct()
        )
    )
    conversations = select(Ticket.conversation_id).where(
        _created_in(start, end), Ticket.conversation_id.is_not(None)
    )
    rows = await session.execute(
        select(AgentActivity.conversation_id, func.count())
        .where(AgentActivity.kind == "reply", AgentActivity.conversation_id.in_(conversations))
        .group_by(AgentActivity.conversation_id)
    )
    replies = {str(conversation): int(count) for conversation, count in rows}
    first_contact = sum(
        1 for t in resolved if t.id not in reopened and replies.get(t.conversation_id or "", 0) <= 1
    )
    return models.FirstContactResolution(
        resolved=len(resolved),
        first_contact=first_contact,
        rate=ratio(first_contact, len(resolved)),
    )


async def _ai_handling(session: AsyncSession, start: datetime, end: datetime) -> models.AiHandling:
    in_window = and_(Conversation.created_at >= start, Conversation.created_at < end)
    ids = select(Conversation.id).where(in_window)
    total = int(
        await session.scalar(select(func.count()).select_from(Conversation).where(in_window)) or 0
    )
    people: set[str] = set()
    for query in (
        select(Conversation.id).where(in_window, Conversation.status == CONVERSATION_HANDOFF),
        select(ConversationMessage.conversation_id).where(
            ConversationMessage.conversation_id.in_(ids),
            ConversationMessage.action == "handoff",
        ),
        select(AgentActivity.conversation_id).where(AgentActivity.conversation_id.in_(ids)),
        select(Ticket.conversation_id).where(Ticket.conversation_id.in_(ids)),
    ):
        people.update(str(value) for value in await session.scalars(query.distinct()))
    bot_only = total - len(people)
    return models.AiHandling(conversations=total, bot_only=bot_only, share=ratio(bot_only, total))


async def _csat(session: AsyncSession, start: datetime, end: datetime) -> models.CsatSummary:
    answered = await session.scalars(
        select(Csat.score).where(
            Csat.score.is_not(None), Csat.answered_at >= start, Csat.answered_at < end
        )
    )
    scores = [score for score in answered if score is not None]  # the query's filter, for mypy
    counts = Counter(scores)
    return models.CsatSummary(
        count=len(scores),
        avg=round(statistics.fmean(scores), 3) if scores else None,
        distribution={str(score): counts.get(score, 0) for score in range(1, 6)},
    )


async def _conversations_by_channel(
    session: AsyncSession, start: datetime, end: datetime
) -> dict[str, int]:
    rows = await session.execute(
        select(Conversation.channel, func.count())
        .where(Conversation.created_at >= start, Conversation.created_at < end)
        .group_by(Conversation.channel)
    )
    return {str(channel): int(count) for channel, count in rows}


def _count(values: Any) -> dict[str, int]:
    return dict(sorted(Counter(values).items()))


async def kpis(
    session: AsyncSession, *, start: datetime, end: datetime, now: datetime
) -> models.Kpis:
    """Every KPI of the window [start, end)."""
    facts = await _ticket_facts(session, start, end)
    earlier = await _sightings_before(session, start)
    return models.Kpis(
        start=start,
        end=end,
        tickets=len(facts),
        ai_handling=await _ai_handling(session, start, end),
        first_response=first_response(facts),
        first_contact_resolution=await _first_contact_resolution(session, facts, start, end),
        sla=sla_compliance(facts, now),
        csat=await _csat(session, start, end),
        repeat_faults=repeat_faults(earlier + _sightings(facts), start),
        volume=models.Volume(
            conversations_by_channel=await _conversations_by_channel(session, start, end),
            tickets_by_channel=_count(t.channel or NO_CHANNEL for t in facts),
            tickets_by_category=_count(t.category for t in facts),
        ),
    )
