"""KPIs over the window [start, end): each figure read from the tables of its domain.

Tickets and conversations count in the window they were created in; CSAT answers in the window
they were given. Rates are None when nothing counts toward them.
"""

from __future__ import annotations

import bisect
import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Executable, Subquery, and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.dialogue.models import CONVERSATION_HANDOFF, Conversation, ConversationMessage
from bot.triage.policy import PRIORITIES
from core.channels import AGENT_ACTION
from intake_api.agents.models import AgentActivity, Csat, FirstResponse
from intake_api.channel_ports.conversations import NOTICE_ACTION
from intake_api.kpis import conversation_lines, models
from intake_api.tickets.models import OPEN_STATUSES, Ticket, TicketEvent

REPEAT_WITHIN = timedelta(days=30)
DURABLE_WITHIN = timedelta(days=7)
NO_CHANNEL = "api"  # tickets opened through the API name no channel
NO_LINE = "(none)"
UNASSIGNED = "(unassigned)"
# Dashboard dimensions and the fact each reads (product line, agent and channel are derived).
SLA_DIMENSIONS = ("tier", "skill_group", "agent")
SLA_GROUPS = ("priority", *SLA_DIMENSIONS)
DIMENSIONS = {
    "priority": "priority",
    "tier": "tier",
    "skill_group": "skill_group",
    "agent": "assignee",
    "channel": "channel",
    "category": "category",
    "product_line": "product_id",
}


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
    resolved_at: datetime | None
    first_response_at: datetime | None
    tier: str = "standard"
    skill_group: str = ""
    assignee: str | None = None
    product_id: str | None = None
    subject: str = ""
    # when a person's first reply's clock started: the last bot line before it, or creation
    response_from: datetime | None = None


def customer_key(
    phone: str | None, email: str | None, channel: str | None, sender: str | None
) -> str | None:
    if phone or email:
        return f"contact:{phone or ''}|{email or ''}"
    return f"sender:{channel}|{sender}" if sender else None


def fault_key(product_id: str | None, fault_id: str | None) -> str | None:
    if fault_id:
        return f"fault:{fault_id}"
    return f"product:{product_id}" if product_id else None


def _created_in(start: datetime, end: datetime) -> ColumnElement[bool]:
    return and_(Ticket.created_at >= start, Ticket.created_at < end)


def _column(dimension: str) -> Any:
    """The ticket column a dashboard dimension reads."""
    return getattr(Ticket, "customer_tier" if dimension == "tier" else DIMENSIONS[dimension])


def _is(column: Any, wanted: str, fallback: str) -> ColumnElement[bool]:
    """A column's group equals `wanted`, where an empty or missing value is `fallback`."""
    if wanted == fallback:
        return or_(column == wanted, column.is_(None), column == "")
    return column == wanted


def _filtered(filters: models.KpiFilters, lines: dict[str, str]) -> list[ColumnElement[bool]]:
    """The dashboard filters as SQL conditions on tickets: every filter given must match the
    ticket's group along its dimension (as `group_of` names it)."""
    conditions = []
    for dimension in ("channel", "priority", "tier", "skill_group", "agent", "category"):
        wanted = getattr(filters, dimension)
        if wanted:
            fallback = {"channel": NO_CHANNEL, "agent": UNASSIGNED}.get(dimension, NO_LINE)
            conditions.append(_is(_column(dimension), wanted, fallback))
    if filters.product_line:
        products = [product for product, line in lines.items() if line == filters.product_line]
        in_line = Ticket.product_id.in_([product for product in products if product])
        conditions.append(
            or_(in_line, Ticket.product_id.is_(None), Ticket.product_id == "")
            if "" in products
            else in_line
        )
    return conditions


def _resolved_at() -> ColumnElement[Any]:
    """When a ticket was resolved: its resolution, or its closing when closed without one."""
    return func.coalesce(
        Ticket.resolved_at, case((Ticket.status == "closed", Ticket.closed_at), else_=None)
    )


def sla_verdict(kind: str, now: datetime) -> ColumnElement[str | None]:
    """The one SLA judgement every SLA figure and its drill-down use, as SQL: `response` (a
    person's first reply, or the resolution, by `sla_due_at`) or `resolution` (by
    `resolution_due_at`); `met`, `breached`, or NULL while still in time or not counted
    (cancelled). Needs tickets outer-joined to their first response."""
    resolved = _resolved_at()
    done: tuple[Any, ...]
    if kind == "response":
        due, done = Ticket.sla_due_at, (FirstResponse.at, resolved)
    else:
        due, done = Ticket.resolution_due_at, (resolved,)
    return case(
        (Ticket.status == "cancelled", None),
        *((moment <= due, "met") for moment in done),
        (or_(*(moment.is_not(None) for moment in done)), "breached"),
        (due < now, "breached"),
        else_=None,
    )


async def _ticket_facts(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    conditions: list[ColumnElement[bool]],
) -> list[TicketFacts]:
    """The window's tickets that meet `conditions`, read as plain columns through Core (no ORM
    objects: windows can be large), each with its hand-off moment when answered."""
    handed_off = _last_bot_line_before_reply(start, end)
    rows = await _execute(
        session,
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
            _resolved_at(),
            FirstResponse.at,
            Ticket.customer_tier,
            Ticket.skill_group,
            Ticket.assignee,
            Ticket.subject,
            handed_off.c.at,
        )
        .outerjoin(FirstResponse, FirstResponse.ticket_id == Ticket.id)
        .outerjoin(handed_off, handed_off.c.ticket_id == Ticket.id)
        .where(_created_in(start, end), *conditions)
        .order_by(Ticket.created_at, Ticket.id),
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
            customer=customer_key(row[7], row[8], row[5], row[9]),
            fault=fault_key(row[10], row[11]),
            resolved_at=row[12],
            first_response_at=row[13],
            tier=row[14],
            skill_group=row[15],
            assignee=row[16],
            product_id=row[10],
            subject=row[17],
            response_from=row[18],
        )
        for row in rows
    ]


def _seconds(waits: list[float]) -> tuple[int, float | None, float | None]:
    return (
        len(waits),
        round(statistics.median(waits), 3) if waits else None,
        round(statistics.fmean(waits), 3) if waits else None,
    )


def first_response(facts: list[TicketFacts]) -> models.FirstResponse:
    """From the hand-off (the last bot line before a person's first reply, or the ticket's
    creation when later) to that reply; bots never count as the response."""
    waits = [
        (t.first_response_at - max(t.created_at, t.response_from or t.created_at)).total_seconds()
        for t in facts
        if t.first_response_at is not None
    ]
    count, p50, avg = _seconds(waits)
    return models.FirstResponse(count=count, p50_seconds=p50, avg_seconds=avg)


def resolution_time(facts: list[TicketFacts]) -> models.ResolutionTime:
    """From creation to resolution, over resolved (or closed) tickets."""
    waits = [(t.resolved_at - t.created_at).total_seconds() for t in facts if t.resolved_at]
    count, p50, avg = _seconds(waits)
    return models.ResolutionTime(count=count, p50_seconds=p50, avg_seconds=avg)


async def _execute(session: AsyncSession, statement: Executable) -> list[Any]:
    """Run a Core statement on the session's connection: plain rows, no ORM result overhead."""
    return list(await (await session.connection()).execute(statement))


def _last_bot_line_before_reply(start: datetime, end: datetime) -> Subquery:
    """Per answered ticket of the window (`ticket_id`, `at`): its conversation's last bot line
    before a person's first reply (the hand-off moment the response clock starts from)."""
    return (
        select(Ticket.id.label("ticket_id"), func.max(ConversationMessage.created_at).label("at"))
        .join(FirstResponse, FirstResponse.ticket_id == Ticket.id)
        .join(ConversationMessage, ConversationMessage.conversation_id == Ticket.conversation_id)
        .where(
            _created_in(start, end),
            ConversationMessage.direction == "out",
            ConversationMessage.created_at < FirstResponse.at,
            or_(
                ConversationMessage.action.is_(None),
                ConversationMessage.action.not_in((AGENT_ACTION, NOTICE_ACTION)),
            ),
        )
        .group_by(Ticket.id)
        .subquery()
    )


def _compliance(met: int, breached: int) -> models.Compliance:
    return models.Compliance(met=met, breached=breached, rate=ratio(met, met + breached))


SlaCounts = Counter[tuple[str, str]]  # (kind, verdict) -> tickets


def _sla(counts: SlaCounts) -> models.SlaCompliance:
    return models.SlaCompliance(
        response=_compliance(counts["response", "met"], counts["response", "breached"]),
        resolution=_compliance(counts["resolution", "met"], counts["resolution", "breached"]),
    )


async def _sla_counts(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    now: datetime,
    conditions: list[ColumnElement[bool]],
) -> list[tuple[dict[str, Any], SlaCounts]]:
    """The window's SLA verdicts counted in the database, per combination of the dimensions
    the SLA figures group by (a handful of rows however many tickets there are)."""
    judged = (
        select(
            *(_column(name).label(name) for name in SLA_GROUPS),
            sla_verdict("response", now).label("response"),
            sla_verdict("resolution", now).label("resolution"),
        )
        .outerjoin(FirstResponse, FirstResponse.ticket_id == Ticket.id)
        .where(_created_in(start, end), *conditions)
        .subquery()
    )
    keys = [judged.c[name] for name in (*SLA_GROUPS, "response", "resolution")]
    rows = await _execute(session, select(*keys, func.count()).group_by(*keys))
    counted = []
    for row in rows:
        *values, response, resolution, count = row
        counts: SlaCounts = Counter()
        counts["response", response] += count
        counts["resolution", resolution] += count
        counted.append((dict(zip(SLA_GROUPS, values, strict=True)), counts))
    return counted


def sla_compliance(
    counted: list[tuple[dict[str, Any], SlaCounts]],
) -> dict[str, models.SlaCompliance]:
    """Response and resolution against the due times, per priority and over all."""
    per: dict[str, SlaCounts] = {group: Counter() for group in (*PRIORITIES, "all")}
    for values, counts in counted:
        for group in (values["priority"], "all"):
            per.setdefault(group, Counter()).update(counts)
    return {group: _sla(per[group]) for group in (*PRIORITIES, "all")}


def sla_by(
    counted: list[tuple[dict[str, Any], SlaCounts]], dimension: str, lines: dict[str, str]
) -> dict[str, models.SlaCompliance]:
    groups: dict[str, SlaCounts] = {}
    for values, counts in counted:
        groups.setdefault(label(dimension, values[dimension], lines), Counter()).update(counts)
    return {group: _sla(counts) for group, counts in sorted(groups.items())}


def label(dimension: str, value: str | None, lines: dict[str, str]) -> str:
    """The group a ticket's `value` of a dashboard dimension falls in."""
    if dimension == "product_line":
        return lines.get(value or "", NO_LINE)
    if dimension == "agent":
        return value or UNASSIGNED
    if dimension == "channel":
        return value or NO_CHANNEL
    return str(value) if value else NO_LINE


def group_of(t: TicketFacts, dimension: str, lines: dict[str, str]) -> str:
    """The group a ticket falls in along a dashboard dimension."""
    return label(dimension, getattr(t, DIMENSIONS[dimension]), lines)


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
        customer = customer_key(phone, email, channel, sender)
        fault = fault_key(product_id, fault_id)
        if customer and fault:
            sightings.append((customer, fault, created_at))
    return sightings


def _sightings(facts: list[TicketFacts]) -> list[Sighting]:
    return [(t.customer, t.fault, t.created_at) for t in facts if t.customer and t.fault]


async def _reopened(session: AsyncSession, start: datetime, end: datetime) -> set[int]:
    """Tickets of the window that went from resolved back to work."""
    in_window = select(Ticket.id).where(_created_in(start, end))
    return set(
        await session.scalars(
            select(TicketEvent.ticket_id)
            .where(
                TicketEvent.ticket_id.in_(in_window),
                TicketEvent.previous_status == "resolved",
                TicketEvent.status.in_(OPEN_STATUSES),
            )
            .distinct()
        )
    )


def durable_outcome(
    t: TicketFacts, reopened: set[int], later: dict[tuple[str, str], list[datetime]]
) -> bool | None:
    """The one durable-resolution judgement (figure and drill-down): None when the ticket is not
    resolved; False when it was reopened or its customer opened a ticket for the same unit and
    fault within 7 days after the resolution; else True."""
    if t.resolved_at is None:
        return None
    if t.id in reopened:
        return False
    if t.customer and t.fault:
        seen = later.get((t.customer, t.fault), [])
        at = bisect.bisect_right(seen, t.resolved_at)
        if at < len(seen) and seen[at] <= t.resolved_at + DURABLE_WITHIN:
            return False
    return True


def durable_resolution(
    facts: list[TicketFacts], reopened: set[int], later: dict[tuple[str, str], list[datetime]]
) -> models.DurableResolution:
    verdicts = [durable_outcome(t, reopened, later) for t in facts]
    resolved, durable = len([v for v in verdicts if v is not None]), verdicts.count(True)
    return models.DurableResolution(
        resolved=resolved, durable=durable, rate=ratio(durable, resolved)
    )


async def _sightings_after(
    session: AsyncSession, facts: list[TicketFacts], end: datetime
) -> dict[tuple[str, str], list[datetime]]:
    """When each (customer, fault) opened a ticket: the window's and 7 days after it."""
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
        .where(_created_in(end, end + DURABLE_WITHIN))
        .where(or_(Ticket.fault_id.is_not(None), Ticket.product_id.is_not(None)))
    )
    sightings = _sightings(facts)
    for phone, email, channel, sender, product_id, fault_id, created_at in rows:
        customer, fault = (
            customer_key(phone, email, channel, sender),
            fault_key(product_id, fault_id),
        )
        if customer and fault:
            sightings.append((customer, fault, created_at))
    seen: dict[tuple[str, str], list[datetime]] = {}
    for customer, fault, created_at in sorted(sightings, key=lambda s: s[2]):
        seen.setdefault((customer, fault), []).append(created_at)
    return seen


def _first_contact(
    facts: list[TicketFacts], reopened: set[int], replies: dict[str, int]
) -> models.FirstContactResolution:
    """Resolved tickets never reopened and answered by at most one agent reply."""
    resolved = [t for t in facts if t.resolved_at is not None]
    first_contact = sum(
        1 for t in resolved if t.id not in reopened and replies.get(t.conversation_id or "", 0) <= 1
    )
    return models.FirstContactResolution(
        resolved=len(resolved),
        first_contact=first_contact,
        rate=ratio(first_contact, len(resolved)),
    )


async def _agent_replies(session: AsyncSession, start: datetime, end: datetime) -> dict[str, int]:
    conversations = select(Ticket.conversation_id).where(
        _created_in(start, end), Ticket.conversation_id.is_not(None)
    )
    rows = await session.execute(
        select(AgentActivity.conversation_id, func.count())
        .where(AgentActivity.kind == "reply", AgentActivity.conversation_id.in_(conversations))
        .group_by(AgentActivity.conversation_id)
    )
    return {str(conversation): int(count) for conversation, count in rows}


def _conversations_in(start: datetime, end: datetime, channel: str | None) -> ColumnElement[bool]:
    window = and_(Conversation.created_at >= start, Conversation.created_at < end)
    return and_(window, Conversation.channel == channel) if channel else window


async def _ai_handling(
    session: AsyncSession, start: datetime, end: datetime, channel: str | None
) -> models.AiHandling:
    in_window = _conversations_in(start, end, channel)
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


async def _csat(
    session: AsyncSession, start: datetime, end: datetime, ticket_ids: set[int] | None
) -> models.CsatSummary:
    """Answers given in the window (score, distribution), and of the surveys sent in the
    window the share answered; `ticket_ids` limits both to the filtered tickets."""
    rows = await session.execute(
        select(Csat.ticket_id, Csat.score, Csat.answered_at, Csat.surveyed_at).where(
            or_(
                and_(Csat.answered_at >= start, Csat.answered_at < end),
                and_(Csat.surveyed_at >= start, Csat.surveyed_at < end),
            )
        )
    )
    scores, surveyed, answered = [], 0, 0
    for ticket_id, score, answered_at, surveyed_at in rows:
        if ticket_ids is not None and ticket_id not in ticket_ids:
            continue
        if score is not None and answered_at is not None and start <= answered_at < end:
            scores.append(score)
        if surveyed_at is not None and start <= surveyed_at < end:
            surveyed += 1
            answered += score is not None
    counts = Counter(scores)
    return models.CsatSummary(
        count=len(scores),
        avg=round(statistics.fmean(scores), 3) if scores else None,
        distribution={str(score): counts.get(score, 0) for score in range(1, 6)},
        surveyed=surveyed,
        response_rate=ratio(answered, surveyed),
    )


async def _conversations_by_channel(
    session: AsyncSession, start: datetime, end: datetime, channel: str | None
) -> dict[str, int]:
    rows = await session.execute(
        select(Conversation.channel, func.count())
        .where(_conversations_in(start, end, channel))
        .group_by(Conversation.channel)
    )
    return {str(channel): int(count) for channel, count in rows}


def _count(values: Any) -> dict[str, int]:
    return dict(sorted(Counter(values).items()))


async def kpis(
    session: AsyncSession,
    *,
    start: datetime,
    end: datetime,
    now: datetime,
    filters: models.KpiFilters | None = None,
    lines: dict[str, str] | None = None,
) -> models.Kpis:
    """Every KPI of the window [start, end); `lines` maps product ids to product lines."""
    filters, lines = filters or models.KpiFilters(), lines or {}
    conditions = _filtered(filters, lines)
    facts = await _ticket_facts(session, start, end, conditions)
    counted = await _sla_counts(session, start, end, now, conditions)
    filtered = filters != models.KpiFilters()
    earlier = await _sightings_before(session, start)
    reopened = await _reopened(session, start, end)
    later = await _sightings_after(session, facts, end)
    mined = await conversation_lines.mine(session, start=start, end=end, channel=filters.channel)
    return models.Kpis(
        start=start,
        end=end,
        tickets=len(facts),
        ai_handling=await _ai_handling(session, start, end, filters.channel),
        first_response=first_response(facts),
        first_contact_resolution=_first_contact(
            facts, reopened, await _agent_replies(session, start, end)
        ),
        sla=sla_compliance(counted),
        sla_by={dimension: sla_by(counted, dimension, lines) for dimension in SLA_DIMENSIONS},
        durable_resolution=durable_resolution(facts, reopened, later),
        resolution_time=resolution_time(facts),
        csat=await _csat(session, start, end, {t.id for t in facts} if filtered else None),
        repeat_faults=repeat_faults(earlier + _sightings(facts), start),
        volume=models.Volume(
            conversations_by_channel=await _conversations_by_channel(
                session, start, end, filters.channel
            ),
            tickets_by_channel=_count(t.channel or NO_CHANNEL for t in facts),
            tickets_by_category=_count(t.category for t in facts),
            tickets_by_product_line=_count(group_of(t, "product_line", lines) for t in facts),
        ),
        handoff_reasons=mined.handoff_reasons,
        knowledge_gaps=mined.gaps,
    )


DRILL_METRICS = ("sla.response", "sla.resolution", "durable_resolution", "volume")


def _durable_label(verdict: bool | None) -> str | None:
    return None if verdict is None else ("durable" if verdict else "not_durable")


async def drill(
    session: AsyncSession,
    *,
    start: datetime,
    end: datetime,
    now: datetime,
    filters: models.KpiFilters,
    lines: dict[str, str],
    metric: str,
    dimension: str,
    group: str,
    outcome: str,
) -> list[TicketFacts]:
    """Exactly the tickets behind one figure: those of `group` along `dimension` (`all`: every
    ticket) whose outcome in `metric` is `outcome`, judged by the same expressions and
    functions as the figure."""
    conditions = _filtered(filters, lines)
    if metric.startswith("sla."):
        conditions.append(sla_verdict(metric.removeprefix("sla."), now) == outcome)
    facts = await _ticket_facts(session, start, end, conditions)
    if metric == "sla.response" and dimension == "priority" and group == "all":
        dimension = "all"
    if dimension != "all":
        facts = [t for t in facts if group_of(t, dimension, lines) == group]
    if metric == "volume":
        return facts if outcome == "all" else []
    if metric == "durable_resolution":
        reopened = await _reopened(session, start, end)
        later = await _sightings_after(session, facts, end)
        return [t for t in facts if _durable_label(durable_outcome(t, reopened, later)) == outcome]
    return facts
