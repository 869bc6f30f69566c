"""KPIs over the window [start, end): each figure read from the tables of its domain.

Tickets and conversations count in the window they were created in; CSAT answers in the window
they were given. Rates are None when nothing counts toward them.

Windows hold up to hundreds of thousands of tickets, so every figure is counted in the database:
one `GROUP BY` over the dimensions, the SLA verdicts (`CASE`) and per-ticket facts (summed), and
one ordered read of two values per median. No ticket row comes back to Python. The facts that
would need a million conversation lines (the first-response wait) or a computed key (who and
which unit and fault) are stored as they are written (`intake_api.kpis.facts`); durable
resolution and repeat faults probe the tickets' (customer key, fault key, created) index.
"""

from __future__ import annotations

import asyncio
import os
import statistics
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Executable,
    Select,
    and_,
    case,
    exists,
    func,
    not_,
    or_,
    select,
    text,
    true,
    union,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from bot.dialogue.models import CONVERSATION_HANDOFF, Conversation, ConversationMessage
from bot.triage.policy import PRIORITIES
from intake_api.agents.models import AgentActivity, Csat, FirstResponse
from intake_api.kpis import conversation_lines, models
from intake_api.kpis.epoch import epoch_us, shifted
from intake_api.kpis.facts import first_response_wait
from intake_api.tickets.models import OPEN_STATUSES, Ticket, TicketEvent

REPEAT_WITHIN = timedelta(days=30)
DURABLE_WITHIN = timedelta(days=7)
NO_CHANNEL = "api"  # tickets opened through the API name no channel
NO_LINE = "(none)"
UNASSIGNED = "(unassigned)"
# Dashboard dimensions and the fact each reads (product line, agent and channel are derived).
SLA_DIMENSIONS = ("tier", "skill_group", "agent")
COUNTED = ("priority", *SLA_DIMENSIONS, "channel", "category", "product_line")
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
    """One ticket as a drill-down lists it."""

    id: int
    created_at: datetime
    status: str
    priority: str
    category: str
    channel: str | None
    tier: str
    skill_group: str
    assignee: str | None
    product_id: str | None
    subject: str


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


TicketLike = Any  # Ticket or an alias of it
Lines = dict[str, str]  # product id -> product line


def _column(dimension: str, table: TicketLike = Ticket) -> Any:
    """The ticket column a dashboard dimension reads."""
    return getattr(table, "customer_tier" if dimension == "tier" else DIMENSIONS[dimension])


def _is(column: Any, wanted: str, fallback: str) -> ColumnElement[bool]:
    """A column's group equals `wanted`, where an empty or missing value is `fallback`."""
    if wanted == fallback:
        return or_(column == wanted, column.is_(None), column == "")
    return column == wanted


def _filtered(
    filters: models.KpiFilters, lines: dict[str, str], table: TicketLike = Ticket
) -> list[ColumnElement[bool]]:
    """The dashboard filters as SQL conditions on tickets (or an alias of them): every filter
    given must match the ticket's group along its dimension (as `group_of` names it)."""
    conditions = []
    for dimension in ("channel", "priority", "tier", "skill_group", "agent", "category"):
        wanted = getattr(filters, dimension)
        if wanted:
            fallback = {"channel": NO_CHANNEL, "agent": UNASSIGNED}.get(dimension, NO_LINE)
            conditions.append(_is(_column(dimension, table), wanted, fallback))
    if filters.product_line:
        products = [product for product, line in lines.items() if line == filters.product_line]
        in_line = table.product_id.in_([product for product in products if product])
        conditions.append(
            or_(in_line, table.product_id.is_(None), table.product_id == "")
            if "" in products
            else in_line
        )
    return conditions


def _resolved_at() -> ColumnElement[Any]:
    """When a ticket was resolved: its resolution, or its closing when closed without one."""
    return func.coalesce(
        Ticket.resolved_at, case((Ticket.status == "closed", Ticket.closed_at), else_=None)
    )


def _resolved_us() -> ColumnElement[Any]:
    """`_resolved_at` as `epoch_us`."""
    return func.coalesce(
        epoch_us(Ticket.resolved_at),
        case((Ticket.status == "closed", epoch_us(Ticket.closed_at)), else_=None),
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
    """The window's tickets that meet `conditions` (a drill-down's list), as plain columns."""
    rows = await _execute(
        session,
        select(
            Ticket.id,
            Ticket.created_at,
            Ticket.status,
            Ticket.priority,
            Ticket.category,
            Ticket.channel,
            Ticket.customer_tier,
            Ticket.skill_group,
            Ticket.assignee,
            Ticket.product_id,
            Ticket.subject,
        )
        .outerjoin(FirstResponse, FirstResponse.ticket_id == Ticket.id)
        .where(_created_in(start, end), *conditions)
        .order_by(Ticket.created_at, Ticket.id),
    )
    return [TicketFacts(*row) for row in rows]


async def _execute(session: AsyncSession, statement: Executable) -> list[Any]:
    """Run a Core statement on the session's connection: plain rows, no ORM result overhead."""
    return list(await (await session.connection()).execute(statement))


def _reopened() -> Select[Any]:
    """Tickets that went from resolved back to work."""
    return select(TicketEvent.ticket_id).where(
        TicketEvent.previous_status == "resolved", TicketEvent.status.in_(OPEN_STATUSES)
    )


def _same_unit(other: TicketLike) -> ColumnElement[bool]:
    """`other` is about the same customer's unit and fault as the ticket (both keys known)."""
    return and_(other.customer_key == Ticket.customer_key, other.fault_key == Ticket.fault_key)


def _seen(
    other: TicketLike, outside: ColumnElement[bool], filters: models.KpiFilters, lines: Lines
) -> ColumnElement[bool]:
    """Whether the outcome figures see `other`: outside the window any ticket, inside it only
    those that meet the filters."""
    conditions = _filtered(filters, lines, other)
    return or_(outside, and_(*conditions)) if conditions else true()


def _durable(end: datetime, filters: models.KpiFilters, lines: Lines) -> ColumnElement[bool]:
    """The one durable-resolution judgement (figure and drill-down) of a resolved ticket of the
    window: never reopened, and its customer opened no ticket for the same unit and fault
    (`customer_key`, `fault_key`) within 7 days after the resolution (among the tickets seen,
    up to 7 days past the window's end)."""
    later, done = aliased(Ticket), _resolved_at()
    return and_(
        not_(Ticket.id.in_(_reopened())),
        not_(
            exists().where(
                _same_unit(later),
                later.created_at > done,
                later.created_at <= shifted(done, DURABLE_WITHIN),
                later.created_at < end + DURABLE_WITHIN,
                _seen(later, later.created_at >= end, filters, lines),
            )
        ),
    )


def _repeats(start: datetime, filters: models.KpiFilters, lines: Lines) -> ColumnElement[bool]:
    """A ticket of the window repeats a fault when its customer opened one for the same unit
    and fault in the 30 days before it (among the tickets seen)."""
    earlier = aliased(Ticket)
    return exists().where(
        _same_unit(earlier),
        earlier.created_at >= shifted(Ticket.created_at, -REPEAT_WITHIN),
        earlier.created_at <= Ticket.created_at,
        or_(
            earlier.created_at < Ticket.created_at,
            and_(earlier.created_at == Ticket.created_at, earlier.id < Ticket.id),
        ),
        _seen(earlier, earlier.created_at < start, filters, lines),
    )


def _replies() -> Any:
    """Agent replies per conversation."""
    return (
        select(AgentActivity.conversation_id, func.count().label("replies"))
        .where(AgentActivity.kind == "reply")
        .group_by(AgentActivity.conversation_id)
        .subquery()
    )


def _flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return case((condition, 1), else_=0)


def _took() -> ColumnElement[Any]:
    """Resolution time in µs (NULL while unresolved)."""
    return _resolved_us() - epoch_us(Ticket.created_at)


def _facts(replies: Any) -> dict[str, ColumnElement[Any]]:
    """Per ticket, what the timing figures add up (NULL adds nothing): first response
    (answered, µs from the hand-off to a person's first reply), resolution time (resolved, µs
    from creation) and first-contact resolution (resolved, never reopened, at most one agent
    reply). Needs tickets outer-joined to their first response and to `replies`."""
    resolved = _resolved_at().is_not(None)
    return {
        "answered": _flag(FirstResponse.ticket_id.is_not(None)),
        "wait": first_response_wait(),
        "resolved": _flag(resolved),
        "took": _took(),
        "first_contact": _flag(
            and_(
                resolved,
                not_(Ticket.id.in_(_reopened())),
                func.coalesce(replies.c.replies, 0) <= 1,
            )
        ),
    }


async def _count(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    conditions: list[ColumnElement[bool]],
    *more: ColumnElement[bool],
) -> int:
    """The window's tickets meeting `conditions` and `more` (a `WHERE`: PostgreSQL turns the
    outcome probes into one hash join)."""
    counted = select(func.count()).where(_created_in(start, end), *conditions, *more)
    return int((await _execute(session, counted.select_from(Ticket)))[0][0])


Spread = tuple[int, float | None, float | None]  # count, median and mean in seconds


async def _spread(
    session: AsyncSession,
    value: ColumnElement[Any],
    count: int,
    total: int,
    window: tuple[datetime, datetime, list[ColumnElement[bool]]],
) -> Spread:
    """Count, median and mean in seconds of `value` (µs per ticket of the window meeting its
    conditions; NULL: none), from its `count` and exact `total` and the one or two middle
    values read in order."""
    if not count:
        return 0, None, None
    start, end, conditions = window
    middle = await _execute(
        session,
        select(value)
        .select_from(Ticket)
        .outerjoin(FirstResponse, FirstResponse.ticket_id == Ticket.id)
        .where(_created_in(start, end), *conditions, value.is_not(None))
        .order_by(value)
        .limit(2 - count % 2)
        .offset((count - 1) // 2),
    )
    seconds = [moment / 1_000_000 for (moment,) in middle]
    return count, round(statistics.median(seconds), 3), round(total / 1_000_000 / count, 3)


@dataclass(frozen=True)
class Timings:
    first_response: models.FirstResponse
    resolution_time: models.ResolutionTime
    first_contact: models.FirstContactResolution


async def _timings(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    now: datetime,
    conditions: list[ColumnElement[bool]],
) -> tuple[list[Group], Timings]:
    """The groups (`_groups`), then from their summed facts and the medians: first response
    (from the hand-off: the last bot line before a person's first reply, or the ticket's
    creation when later, to that reply; bots never count as the response), resolution time
    (creation to resolution) and first-contact resolution of the window's tickets."""
    groups = await _groups(session, start, end, now, conditions)
    totals: Counter[str] = Counter()
    for group in groups:
        totals.update(group.facts)
    window = (start, end, conditions)
    waits = await _spread(
        session, first_response_wait(), totals["answered"], totals["wait"], window
    )
    took = await _spread(session, _took(), totals["resolved"], totals["took"], window)
    return groups, Timings(
        first_response=_model(models.FirstResponse, waits),
        resolution_time=_model(models.ResolutionTime, took),
        first_contact=models.FirstContactResolution(
            resolved=totals["resolved"],
            first_contact=totals["first_contact"],
            rate=ratio(totals["first_contact"], totals["resolved"]),
        ),
    )


def _model(kind: Any, spread: Spread) -> Any:
    count, median, mean = spread
    return kind(count=count, p50_seconds=median, avg_seconds=mean)


def _compliance(met: int, breached: int) -> models.Compliance:
    return models.Compliance(met=met, breached=breached, rate=ratio(met, met + breached))


SlaCounts = Counter[tuple[str, str]]  # (kind, verdict) -> tickets


def _sla(counts: SlaCounts) -> models.SlaCompliance:
    return models.SlaCompliance(
        response=_compliance(counts["response", "met"], counts["response", "breached"]),
        resolution=_compliance(counts["resolution", "met"], counts["resolution", "breached"]),
    )


@dataclass(frozen=True)
class Group:
    """Tickets alike in every counted dimension, their SLA verdicts and summed facts."""

    values: dict[str, Any]
    tickets: int
    verdicts: SlaCounts
    facts: dict[str, int]


async def _groups(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    now: datetime,
    conditions: list[ColumnElement[bool]],
) -> list[Group]:
    """The window's tickets, SLA verdicts and facts (`_facts`) counted in the database, per
    combination of the dimensions the figures group by (a few rows however many tickets)."""
    replies = _replies()
    facts = _facts(replies)
    judged = (
        select(
            *(_column(name).label(name) for name in COUNTED),
            sla_verdict("response", now).label("response"),
            sla_verdict("resolution", now).label("resolution"),
            *(value.label(name) for name, value in facts.items()),
        )
        .outerjoin(FirstResponse, FirstResponse.ticket_id == Ticket.id)
        .outerjoin(replies, replies.c.conversation_id == Ticket.conversation_id)
        .where(_created_in(start, end), *conditions)
        .subquery()
    )
    keys = [judged.c[name] for name in (*COUNTED, "response", "resolution")]
    sums = [func.sum(judged.c[name]) for name in facts]
    groups = []
    for row in await _execute(session, select(*keys, func.count(), *sums).group_by(*keys)):
        values, (response, resolution, count) = (
            row[: len(COUNTED)],
            row[len(COUNTED) : len(keys) + 1],
        )
        verdicts: SlaCounts = Counter({("response", response): count})
        verdicts["resolution", resolution] += count
        summed = dict(zip(facts, (int(total or 0) for total in row[len(keys) + 1 :]), strict=True))
        groups.append(Group(dict(zip(COUNTED, values, strict=True)), count, verdicts, summed))
    return groups


def sla_compliance(groups: list[Group]) -> dict[str, models.SlaCompliance]:
    """Response and resolution against the due times, per priority and over all."""
    per: dict[str, SlaCounts] = {group: Counter() for group in (*PRIORITIES, "all")}
    for group in groups:
        for name in (group.values["priority"], "all"):
            per.setdefault(name, Counter()).update(group.verdicts)
    return {name: _sla(per[name]) for name in (*PRIORITIES, "all")}


def sla_by(
    groups: list[Group], dimension: str, lines: dict[str, str]
) -> dict[str, models.SlaCompliance]:
    per: dict[str, SlaCounts] = {}
    for group in groups:
        name = label(dimension, group.values[dimension], lines)
        per.setdefault(name, Counter()).update(group.verdicts)
    return {name: _sla(counts) for name, counts in sorted(per.items())}


def _volume(groups: list[Group], dimension: str, lines: dict[str, str]) -> dict[str, int]:
    """Tickets per group of a dimension (categories by their own name)."""
    counts: Counter[str] = Counter()
    for group in groups:
        value = group.values[dimension]
        counts[value if dimension == "category" else label(dimension, value, lines)] += (
            group.tickets
        )
    return dict(sorted(counts.items()))


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
    # the conversations a person touched, de-duplicated and counted in the database (reading
    # their ids, one per ticket, cost more than the union)
    people = union(
        select(Conversation.id).where(in_window, Conversation.status == CONVERSATION_HANDOFF),
        select(ConversationMessage.conversation_id).where(
            ConversationMessage.conversation_id.in_(ids),
            ConversationMessage.action == "handoff",
        ),
        select(AgentActivity.conversation_id).where(AgentActivity.conversation_id.in_(ids)),
        select(Ticket.conversation_id).where(Ticket.conversation_id.in_(ids)),
    ).subquery()
    bot_only = total - int(await session.scalar(select(func.count()).select_from(people)) or 0)
    return models.AiHandling(conversations=total, bot_only=bot_only, share=ratio(bot_only, total))


async def _csat(
    session: AsyncSession, start: datetime, end: datetime, tickets: Select[Any] | None
) -> models.CsatSummary:
    """Answers given in the window (score, distribution), and of the surveys sent in the
    window the share answered; `tickets` (ids) limits both to the filtered tickets. Counted in
    the database per score and window (the mean from the exact integer sum)."""
    answered_in = and_(Csat.answered_at >= start, Csat.answered_at < end)
    surveyed_in = and_(Csat.surveyed_at >= start, Csat.surveyed_at < end)
    of_tickets = [Csat.ticket_id.in_(tickets)] if tickets is not None else []
    judged = (
        select(
            Csat.score.label("score"),
            case((answered_in, 1), else_=0).label("answered_in"),
            case((surveyed_in, 1), else_=0).label("surveyed_in"),
        )
        .where(or_(answered_in, surveyed_in), *of_tickets)
        .subquery()
    )
    keys = [judged.c.score, judged.c.answered_in, judged.c.surveyed_in]
    counts: Counter[int] = Counter()
    surveyed = answered = 0
    for score, answered_in_window, surveyed_in_window, count in await _execute(
        session, select(*keys, func.count()).group_by(*keys)
    ):
        if score is not None and answered_in_window:
            counts[score] += count
        if surveyed_in_window:
            surveyed += count
            answered += count if score is not None else 0
    given = counts.total()
    return models.CsatSummary(
        count=given,
        avg=round(sum(s * n for s, n in counts.items()) / given, 3) if given else None,
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


async def _without_jit(session: AsyncSession) -> None:
    """PostgreSQL compiles a query to machine code when its estimated cost is high, as it is
    for a window of every ticket, and the compiling took 0.5-0.9 s of a 1.6 s read here: the
    KPI reads are one-off scans, so this transaction runs them interpreted."""
    if (await session.connection()).dialect.name == "postgresql":
        await session.execute(text("SET LOCAL jit = off"))


Source = AsyncSession | async_sessionmaker[AsyncSession]
Read = Callable[[AsyncSession], Awaitable[Any]]
# reads of one dashboard in flight at once: the database works on each on a core of its own
# (PostgreSQL's backends, SQLite's connection threads, which leave the GIL while they step)
AT_ONCE = min(4, os.cpu_count() or 1)


async def _read_all(source: Source, reads: list[Read]) -> list[Any]:
    """Run independent reads: one after another in `source`'s transaction when it is a
    session, or `AT_ONCE` at a time, each in a session of its own, from a session factory."""
    if isinstance(source, AsyncSession):
        await _without_jit(source)
        return [await read(source) for read in reads]
    limit = asyncio.Semaphore(AT_ONCE)

    async def alone(read: Read) -> Any:
        async with limit, source() as session:
            await _without_jit(session)
            return await read(session)

    return list(await asyncio.gather(*(alone(read) for read in reads)))


async def kpis(
    source: Source,
    *,
    start: datetime,
    end: datetime,
    now: datetime,
    filters: models.KpiFilters | None = None,
    lines: dict[str, str] | None = None,
) -> models.Kpis:
    """Every KPI of the window [start, end); `lines` maps product ids to product lines.
    `source` is a session (the reads run one after another in its transaction) or a session
    factory (the reads run at once, each in a session of its own, so each figure is exact as of
    its own read; PostgreSQL's read-committed transaction gives one snapshot per statement
    anyway, SQLite's would give one for all)."""
    filters, lines = filters or models.KpiFilters(), lines or {}
    conditions = _filtered(filters, lines)
    channel = filters.channel
    keyed = and_(Ticket.customer_key.is_not(None), Ticket.fault_key.is_not(None))
    resolved = _resolved_at().is_not(None)
    tickets = select(Ticket.id).where(_created_in(start, end), *conditions)
    window = (start, end, conditions)
    reads: list[Read] = [  # the longest first
        lambda s: _timings(s, start, end, now, conditions),
        lambda s: _ai_handling(s, start, end, channel),
        lambda s: _count(s, *window, keyed, _repeats(start, filters, lines)),
        lambda s: _count(s, *window, resolved, _durable(end, filters, lines)),
        lambda s: conversation_lines.handoff_reasons(s, start=start, end=end, channel=channel),
        lambda s: conversation_lines.knowledge_gaps(s, start=start, end=end, channel=channel),
        lambda s: _count(s, *window, keyed),
        lambda s: _conversations_by_channel(s, start, end, channel),
        lambda s: _csat(s, start, end, tickets if conditions else None),
    ]
    (
        (groups, timings),
        ai_handling,
        repeats,
        durable,
        reasons,
        gaps,
        faulted,
        conversations,
        csat,
    ) = await _read_all(source, reads)
    resolved_count = timings.first_contact.resolved
    return models.Kpis(
        start=start,
        end=end,
        tickets=sum(group.tickets for group in groups),
        ai_handling=ai_handling,
        first_response=timings.first_response,
        first_contact_resolution=timings.first_contact,
        sla=sla_compliance(groups),
        sla_by={dimension: sla_by(groups, dimension, lines) for dimension in SLA_DIMENSIONS},
        durable_resolution=models.DurableResolution(
            resolved=resolved_count, durable=durable, rate=ratio(durable, resolved_count)
        ),
        resolution_time=timings.resolution_time,
        csat=csat,
        repeat_faults=models.RepeatFaults(
            tickets_with_fault=faulted, repeats=repeats, share=ratio(repeats, faulted)
        ),
        volume=models.Volume(
            conversations_by_channel=conversations,
            tickets_by_channel=_volume(groups, "channel", lines),
            tickets_by_category=_volume(groups, "category", lines),
            tickets_by_product_line=_volume(groups, "product_line", lines),
        ),
        handoff_reasons=reasons,
        knowledge_gaps=gaps,
    )


DRILL_METRICS = ("sla.response", "sla.resolution", "durable_resolution", "volume")


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
    ticket) whose outcome in `metric` is `outcome`, judged by the same expressions as the
    figure."""
    conditions = _filtered(filters, lines)
    if metric.startswith("sla."):
        conditions.append(sla_verdict(metric.removeprefix("sla."), now) == outcome)
    elif metric == "durable_resolution":
        wanted = {"durable": True, "not_durable": False}.get(outcome)
        if wanted is None:
            return []
        durable = _durable(end, filters, lines)
        conditions += [_resolved_at().is_not(None), durable if wanted else not_(durable)]
    elif metric == "volume" and outcome != "all":
        return []
    await _without_jit(session)
    facts = await _ticket_facts(session, start, end, conditions)
    if metric == "sla.response" and dimension == "priority" and group == "all":
        dimension = "all"
    if dimension != "all":
        facts = [t for t in facts if group_of(t, dimension, lines) == group]
    return facts
