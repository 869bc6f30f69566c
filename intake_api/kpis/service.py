"""KPIs over the window [start, end): each figure read from the tables of its domain.

Tickets and conversations count in the window they were created in; CSAT answers in the window
they were given. Rates are None when nothing counts toward them.

Windows hold up to hundreds of thousands of tickets, so the figures are counted in the database
(`GROUP BY` over `CASE` verdicts) and what must be judged in Python (medians, durable
resolution, repeat faults) is read as plain integers (`epoch_us`), never as one object per
ticket. What would need a million conversation lines per read (the first-response wait) is
stored as it is written, and who and what a ticket is about are generated columns of tickets
(`intake_api.kpis.facts`). The independent reads run at once when given a session factory.
"""

from __future__ import annotations

import asyncio
import os
import statistics
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Executable,
    Select,
    and_,
    case,
    exists,
    func,
    or_,
    select,
    text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.dialogue.models import CONVERSATION_HANDOFF, Conversation, ConversationMessage
from bot.triage.policy import PRIORITIES
from core.epoch import epoch_us
from intake_api.agents.models import AgentActivity, Csat, FirstResponse
from intake_api.alarms.models import RepeatFault
from intake_api.kpis import conversation_lines, models
from intake_api.kpis.facts import first_response_wait
from intake_api.tickets.models import OPEN_STATUSES, Ticket, TicketEvent
from intake_api.tickets.outcomes import resolved_us

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


# percentile_disc's fraction that picks the upper of two middle values (any just above one half
# does, up to 10^9 values)
UPPER_MIDDLE = 0.5 + 1e-10
WORK_MEM = "64MB"  # a KPI read's memory for one hash or sort on PostgreSQL (`_for_scans`)


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


def durable_verdict() -> ColumnElement[str | None]:
    """The one durable-resolution judgement (figure and drill-down), as SQL: NULL while
    unresolved; `not_durable` when reopened, or when the same customer opened a ticket for the
    same unit and fault within 7 days after the resolution (`fault_recurred`); else `durable`."""
    return case(
        (_resolved_at().is_(None), None),
        (or_(Ticket.id.in_(_reopened()), Ticket.fault_recurred), "not_durable"),
        else_="durable",
    )


def _agent_replies() -> Any:
    """Agents' replies per conversation, to outer-join to tickets."""
    return (
        select(AgentActivity.conversation_id, func.count().label("replies"))
        .where(AgentActivity.kind == "reply")
        .group_by(AgentActivity.conversation_id)
        .subquery()
    )


def _counted(value: Any, when: ColumnElement[bool] | None = None) -> Any:
    """SQL: how many rows have `value` (and meet `when`)."""
    return func.count(value if when is None else case((when, value), else_=None))


@dataclass(frozen=True)
class Outcomes:
    """First-contact and durable resolution, and repeat faults, of the window's tickets."""

    first_contact: models.FirstContactResolution
    durable: models.DurableResolution
    repeat_faults: models.RepeatFaults


async def _outcomes(
    session: AsyncSession, start: datetime, end: datetime, conditions: list[ColumnElement[bool]]
) -> Outcomes:
    """Counted in the database in one pass: first contact (resolved, never reopened, at most one
    agent reply), durable resolution (`durable_verdict`) and repeat faults (`repeats_fault`)."""
    replies = _agent_replies()
    resolved = _resolved_at().is_not(None)
    not_reopened = Ticket.id.not_in(_reopened())
    keyed = and_(Ticket.customer_key.is_not(None), Ticket.fault_key.is_not(None))
    (row,) = await _execute(
        session,
        select(
            _counted(Ticket.id, resolved),
            _counted(
                Ticket.id,
                and_(resolved, not_reopened, func.coalesce(replies.c.replies, 0) <= 1),
            ),
            _counted(Ticket.id, durable_verdict() == "durable"),
            _counted(Ticket.id, keyed),
            _counted(Ticket.id, and_(keyed, Ticket.repeats_fault)),
        )
        .outerjoin(replies, replies.c.conversation_id == Ticket.conversation_id)
        .where(_created_in(start, end), *conditions),
    )
    resolutions, first, durable, faults, repeats = (int(value) for value in row)
    return Outcomes(
        first_contact=models.FirstContactResolution(
            resolved=resolutions, first_contact=first, rate=ratio(first, resolutions)
        ),
        durable=models.DurableResolution(
            resolved=resolutions, durable=durable, rate=ratio(durable, resolutions)
        ),
        repeat_faults=models.RepeatFaults(
            tickets_with_fault=faults, repeats=repeats, share=ratio(repeats, faults)
        ),
    )


@dataclass(frozen=True)
class Spread:
    """Durations in µs: how many, their sum, and the lower and upper middle in order (equal
    when the count is odd)."""

    count: int
    total: int
    low: int | None
    high: int | None

    def seconds(self) -> tuple[int, float | None, float | None]:
        """Count, median and mean in seconds."""
        if not self.count or self.low is None or self.high is None:
            return 0, None, None
        median = statistics.median((self.low / 1_000_000, self.high / 1_000_000))
        return self.count, round(median, 3), round(self.total / self.count / 1_000_000, 3)


async def _spread(
    session: AsyncSession,
    value: ColumnElement[Any],
    present: ColumnElement[bool],
    start: datetime,
    end: datetime,
    conditions: list[ColumnElement[bool]],
) -> Spread:
    """The spread of `value` (µs) over the window's tickets where it is `present` (a cheaper
    test than the value's own NULL in SQLite, which computes it anew for each use), counted in
    the database. A median needs the values in order: PostgreSQL picks the two middle ones in
    one sort (`percentile_disc` at one half picks the lower, just above one half the upper; the
    same one when the count is odd). SQLite has no such aggregate: its values are numbered in
    order by a window function and the middle ones read. (Reading every value into Python took
    the GIL the other reads need, and doubled the dashboard's time on SQLite.)"""
    # computed once a row: the planners keep a subquery with an OFFSET apart instead of
    # copying its expression into each aggregate that reads it
    values = (
        _of_window([value.label("value")], start, end, [*conditions, present]).offset(0).subquery()
    )
    if (await session.connection()).dialect.name == "postgresql":
        middle = func.percentile_disc(postgresql.array([0.5, UPPER_MIDDLE]))
        ((count, total, pair),) = await _execute(
            session,
            select(func.count(), func.sum(values.c.value), middle.within_group(values.c.value)),
        )
        low, high = pair or (None, None)
        return Spread(int(count), int(total or 0), low, high)
    ranked = select(
        values.c.value,
        func.row_number().over(order_by=values.c.value).label("rank"),
        func.count().over().label("count"),
        func.sum(values.c.value).over().label("total"),
    ).subquery()
    middle_rows = await _execute(
        session,
        select(ranked.c.value, ranked.c.count, ranked.c.total)
        .where(ranked.c.rank.in_([(ranked.c.count + 1) // 2, (ranked.c.count + 2) // 2]))
        .order_by(ranked.c.rank),
    )
    if not middle_rows:
        return Spread(0, 0, None, None)
    (low, count, total), (high, _, _) = middle_rows[0], middle_rows[-1]
    return Spread(int(count), int(total), low, high)


def _first_response(spread: Spread) -> models.FirstResponse:
    count, p50, mean = spread.seconds()
    return models.FirstResponse(count=count, p50_seconds=p50, avg_seconds=mean)


def _resolution_time(spread: Spread) -> models.ResolutionTime:
    count, p50, mean = spread.seconds()
    return models.ResolutionTime(count=count, p50_seconds=p50, avg_seconds=mean)


def _of_window(
    columns: list[Any], start: datetime, end: datetime, conditions: list[ColumnElement[bool]]
) -> Select[Any]:
    """`columns` over the window's tickets that meet `conditions`, each with its first
    response (outer join)."""
    return (
        select(*columns)
        .select_from(Ticket)
        .outerjoin(FirstResponse, FirstResponse.ticket_id == Ticket.id)
        .where(_created_in(start, end), *conditions)
    )


def _compliance(met: int, breached: int) -> models.Compliance:
    return models.Compliance(met=met, breached=breached, rate=ratio(met, met + breached))


SlaCounts = Counter[tuple[str, str]]  # (kind, verdict) -> tickets
VERDICTS = ("met", "breached")


def _sla(counts: SlaCounts) -> models.SlaCompliance:
    return models.SlaCompliance(
        response=_compliance(counts["response", "met"], counts["response", "breached"]),
        resolution=_compliance(counts["resolution", "met"], counts["resolution", "breached"]),
    )


@dataclass(frozen=True)
class Group:
    """Tickets alike in every counted dimension, and their SLA verdicts."""

    values: dict[str, Any]
    tickets: int
    verdicts: SlaCounts


async def _groups(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    now: datetime,
    conditions: list[ColumnElement[bool]],
) -> list[Group]:
    """The window's tickets and SLA verdicts counted in the database, per combination of the
    dimensions the figures group by (a few rows however many tickets there are). Grouped by
    the dimensions alone, the verdicts counted in each group: SQLite then groups by walking
    the index on those dimensions (`ix_tickets_kpi_groups`) instead of sorting every ticket."""
    judged = (
        select(
            *(_column(name).label(name) for name in COUNTED),
            sla_verdict("response", now).label("response"),
            sla_verdict("resolution", now).label("resolution"),
        )
        .outerjoin(FirstResponse, FirstResponse.ticket_id == Ticket.id)
        .where(_created_in(start, end), *conditions)
        .subquery()
    )
    dimensions = [judged.c[name] for name in COUNTED]
    verdicts = [(kind, verdict) for kind in ("response", "resolution") for verdict in VERDICTS]
    counts = [_counted(judged.c[kind], judged.c[kind] == verdict) for kind, verdict in verdicts]
    groups = []
    for row in await _execute(
        session, select(*dimensions, func.count(), *counts).group_by(*dimensions)
    ):
        values, tickets, counted = row[: len(COUNTED)], row[len(COUNTED)], row[len(COUNTED) + 1 :]
        groups.append(
            Group(
                dict(zip(COUNTED, values, strict=True)),
                tickets,
                Counter(dict(zip(verdicts, counted, strict=True))),
            )
        )
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
    """The window's conversations, and those no person touched: no ticket, no agent activity,
    not handed off (status, or a hand-off line since the window began: lines are few of those,
    read once by their (action, time) index). Each "no" a condition of its own, so that
    PostgreSQL anti-joins and SQLite probes an index per conversation."""
    in_window = _conversations_in(start, end, channel)
    handed_off = select(ConversationMessage.conversation_id).where(
        ConversationMessage.action == "handoff", ConversationMessage.created_at >= start
    )
    untouched = (
        ~exists().where(Ticket.conversation_id == Conversation.id),
        ~exists().where(AgentActivity.conversation_id == Conversation.id),
        Conversation.status != CONVERSATION_HANDOFF,
        Conversation.id.not_in(handed_off),
    )
    conversations = select(func.count()).select_from(Conversation).where(in_window)
    (row,) = await _execute(
        session,
        select(conversations.scalar_subquery(), conversations.where(*untouched).scalar_subquery()),
    )
    total, bot_only = (int(count or 0) for count in row)
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


async def _unit_repeats(
    session: AsyncSession, start: datetime, end: datetime, conditions: list[ColumnElement[bool]]
) -> int:
    """The window's tickets (meeting `conditions`) that the alarms flagged as a repeat fault of
    their unit and code."""
    return int(
        await session.scalar(
            select(func.count())
            .select_from(RepeatFault)
            .join(Ticket, Ticket.id == RepeatFault.ticket_id)
            .where(_created_in(start, end), *conditions)
        )
        or 0
    )


async def _for_scans(session: AsyncSession) -> None:
    """Settings of a transaction of KPI reads on PostgreSQL. They are one-off scans of every
    ticket of a window: the compiling to machine code the planner picks for such costs took
    0.5-0.9 s of a 1.6 s read here, so they run interpreted; and grouping 100k tickets in the
    default 4 MB of work memory made it sort them on disk (0.43 s) where a hash of its few
    hundred groups takes 0.2 s in memory."""
    if (await session.connection()).dialect.name == "postgresql":
        # both for this transaction only (SET LOCAL), in one round trip
        await session.execute(
            text("SELECT set_config('jit', 'off', true), set_config('work_mem', :memory, true)"),
            {"memory": WORK_MEM},
        )


Source = AsyncSession | async_sessionmaker[AsyncSession]
Read = Callable[[AsyncSession], Awaitable[Any]]
# reads of one dashboard in flight at once: the database works on each on a core of its own
# (PostgreSQL's backends, SQLite's connection threads, which leave the GIL while they step)
AT_ONCE = min(4, os.cpu_count() or 1)


async def _read_all(source: Source, reads: list[Read]) -> list[Any]:
    """Run independent reads: one after another in `source`'s transaction when it is a
    session, or `AT_ONCE` at a time, each in a session of its own, from a session factory."""
    if isinstance(source, AsyncSession):
        await _for_scans(source)
        return [await read(source) for read in reads]
    limit = asyncio.Semaphore(AT_ONCE)

    async def alone(read: Read) -> Any:
        async with limit, source() as session:
            await _for_scans(session)
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
    tickets = select(Ticket.id).where(_created_in(start, end), *conditions)
    answered = FirstResponse.ticket_id.is_not(None)
    took = resolved_us() - epoch_us(Ticket.created_at)
    reads: list[Read] = [  # the longest first
        lambda s: _groups(s, start, end, now, conditions),
        lambda s: _spread(s, first_response_wait(), answered, start, end, conditions),
        lambda s: _spread(s, took, _resolved_at().is_not(None), start, end, conditions),
        lambda s: _outcomes(s, start, end, conditions),
        lambda s: conversation_lines.handoff_reasons(s, start=start, end=end, channel=channel),
        lambda s: conversation_lines.knowledge_gaps(s, start=start, end=end, channel=channel),
        lambda s: _ai_handling(s, start, end, channel),
        lambda s: _conversations_by_channel(s, start, end, channel),
        lambda s: _csat(s, start, end, tickets if conditions else None),
        lambda s: _unit_repeats(s, start, end, conditions),
    ]
    (
        groups,
        waits,
        resolutions,
        outcomes,
        reasons,
        gaps,
        ai_handling,
        conversations,
        csat,
        unit_repeats,
    ) = await _read_all(source, reads)
    return models.Kpis(
        start=start,
        end=end,
        tickets=sum(group.tickets for group in groups),
        ai_handling=ai_handling,
        first_response=_first_response(waits),
        first_contact_resolution=outcomes.first_contact,
        sla=sla_compliance(groups),
        sla_by={dimension: sla_by(groups, dimension, lines) for dimension in SLA_DIMENSIONS},
        durable_resolution=outcomes.durable,
        resolution_time=_resolution_time(resolutions),
        csat=csat,
        repeat_faults=outcomes.repeat_faults.model_copy(update={"unit_repeats": unit_repeats}),
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
    ticket) whose outcome in `metric` is `outcome`, judged by the same expressions and
    functions as the figure."""
    conditions = _filtered(filters, lines)
    await _for_scans(session)
    if metric.startswith("sla."):
        conditions.append(sla_verdict(metric.removeprefix("sla."), now) == outcome)
    elif metric == "durable_resolution":
        conditions.append(durable_verdict() == outcome)
    elif outcome != "all":  # volume: every ticket of the group
        return []
    facts = await _ticket_facts(session, start, end, conditions)
    if metric == "sla.response" and dimension == "priority" and group == "all":
        dimension = "all"
    if dimension != "all":
        facts = [t for t in facts if group_of(t, dimension, lines) == group]
    return facts
