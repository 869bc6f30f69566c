"""The KPI reads that the database does most of (first response, resolution time, first-contact
resolution, durable resolution, repeat faults) give exactly the figures of a straightforward
computation over the raw rows, on SQLite and PostgreSQL, with and without filters.

The stored per-ticket facts are filled by the statement the migration runs over existing rows.
The seeded data is random but fixed (one seed) and covers the edges the definitions name: bot,
agent and notice lines around the first reply, reopened tickets, one or two agent replies,
closed tickets without a resolution time, cancelled ones, and customers known by phone, by
e-mail only or by channel and sender only, with a fault id, a product only, or neither.
"""

from __future__ import annotations

import random
import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.dialogue.models import Conversation, ConversationMessage
from core.channels import AGENT_ACTION
from core.database import unit_of_work
from intake_api.agents.models import AgentActivity, FirstResponse
from intake_api.channel_ports.conversations import NOTICE_ACTION
from intake_api.kpis import models
from intake_api.kpis.conversation_lines import ASKED, COMPLAINT, REASONS, handoff_reasons
from intake_api.kpis.service import drill, kpis
from intake_api.tickets.models import OPEN_STATUSES, Ticket, TicketEvent
from intake_api.tickets.outcomes import customer_key, fault_key, store_outcomes

T0 = datetime(2026, 5, 1, tzinfo=UTC)
DAY = timedelta(days=1)
TICKETS = 240
ACTIONS = (None, "answer", "clarify", "fallback", AGENT_ACTION, NOTICE_ACTION, "handoff")


def _conversation(number: int, channel: str, created: datetime) -> Conversation:
    return Conversation(
        id=f"c{number}",
        channel=channel,
        sender_id=f"s{number}",
        live_key=None,
        status="closed",
        lang="en",
        state={},
        slots={},
        customer={},
        created_at=created,
        updated_at=created,
    )


def _customer(rng: random.Random) -> dict[str, str | None]:
    """A few customers, known by phone, e-mail, both, or only their channel's sender id."""
    kind, who = rng.choice(("phone", "email", "both", "sender", "none")), rng.randint(1, 12)
    return {
        "customer_phone": f"+86 {who}" if kind in ("phone", "both") else rng.choice((None, "")),
        "customer_email": f"u{who}@x.cn" if kind in ("email", "both") else None,
        "sender_id": f"s{who}" if kind == "sender" else None,
    }


def _ticket(number: int, rng: random.Random) -> Ticket:
    created = T0 + timedelta(seconds=rng.uniform(0, 50 * 86400))
    status = rng.choice(("new", "assigned", "resolved", "resolved", "closed", "cancelled"))
    resolved = created + timedelta(hours=rng.uniform(0.5, 200)) if status != "new" else None
    return Ticket(
        id=number,
        status=status,
        priority=rng.choice(("P1", "P2", "P3")),
        category=rng.choice(("repair", "complaint")),
        skill_group="general",
        subject=f"t{number}",
        customer_tier="standard",
        product_id=rng.choice(("AC-300", "AC-500", None)),
        fault_id=rng.choice((f"F-{rng.randint(1, 3)}", None, "")),
        channel=rng.choice(("wechat", "telegram", None)),
        conversation_id=f"c{number}" if number % 4 else None,
        status_token=f"tok-{number}",
        triage_reasons=[],
        sla_due_at=created + timedelta(hours=8),
        resolution_due_at=created + timedelta(hours=72),
        created_at=created,
        updated_at=created,
        resolved_at=resolved if status in ("resolved", "closed") and number % 5 else None,
        closed_at=resolved if status in ("closed", "cancelled") else None,
        last_seq=1,
        **_customer(rng),
    )


async def seed(sessions: async_sessionmaker[AsyncSession]) -> None:
    rng = random.Random(10)
    tickets = [_ticket(number, rng) for number in range(1, TICKETS + 1)]
    async with unit_of_work(sessions) as session:
        for t in tickets:
            if t.conversation_id:
                session.add(_conversation(t.id, t.channel or "webchat", t.created_at))
        await session.flush()
        session.add_all(tickets)
        await session.flush()
        for t in tickets:
            answered = t.created_at + timedelta(hours=rng.uniform(0, 10))
            if rng.random() < 0.7:
                session.add(FirstResponse(ticket_id=t.id, agent="a", at=answered))
            if t.conversation_id:
                for _ in range(rng.randint(0, 5)):  # lines before and after the reply
                    at = t.created_at + timedelta(hours=rng.uniform(-2, 12))
                    session.add(
                        ConversationMessage(
                            conversation_id=t.conversation_id,
                            direction=rng.choice(("in", "out", "out")),
                            text="x",
                            action=rng.choice(ACTIONS),
                            created_at=at,
                        )
                    )
                for _ in range(rng.choice((0, 1, 1, 2))):
                    session.add(
                        AgentActivity(
                            agent="a", kind="reply", conversation_id=t.conversation_id, at=answered
                        )
                    )
            if t.status in ("resolved", "closed") and rng.random() < 0.2:
                session.add(
                    TicketEvent(
                        ticket_id=t.id,
                        seq=2,
                        kind="status",
                        status="in_progress",
                        previous_status="resolved",
                        actor="a",
                        at=t.created_at + DAY,
                    )
                )
        # the facts the service keeps as tickets are written, for rows loaded around it (the
        # migration's backfill; tests/intake_api/kpis/test_kept_facts.py checks the writes)
        await session.execute(store_outcomes())


# --- the straightforward computation ---------------------------------------------------------


@dataclass
class Raw:
    tickets: list[Ticket]
    firsts: dict[int, datetime]
    lines: list[ConversationMessage]
    reopened: set[int]
    replies: dict[str, int]


async def _raw(sessions: async_sessionmaker[AsyncSession]) -> Raw:
    async with sessions() as session:
        firsts = {r.ticket_id: r.at for r in await session.scalars(select(FirstResponse))}
        reopened = {
            e.ticket_id
            for e in await session.scalars(select(TicketEvent))
            if e.previous_status == "resolved" and e.status in OPEN_STATUSES
        }
        replies: dict[str, int] = {}
        for a in await session.scalars(select(AgentActivity)):
            if a.kind == "reply" and a.conversation_id:
                replies[a.conversation_id] = replies.get(a.conversation_id, 0) + 1
        return Raw(
            tickets=list(await session.scalars(select(Ticket))),
            firsts=firsts,
            lines=list(await session.scalars(select(ConversationMessage))),
            reopened=reopened,
            replies=replies,
        )


def _us(span: timedelta) -> int:
    return span // timedelta(microseconds=1)


def _spread(spans: list[timedelta]) -> tuple[int, float | None, float | None]:
    seconds = [_us(span) / 1_000_000 for span in spans]
    if not seconds:
        return 0, None, None
    return len(seconds), round(statistics.median(seconds), 3), round(statistics.fmean(seconds), 3)


def _done(t: Ticket) -> datetime | None:
    return t.resolved_at or (t.closed_at if t.status == "closed" else None)


def _key(t: Ticket) -> tuple[str, str] | None:
    customer = customer_key(t.customer_phone, t.customer_email, t.channel, t.sender_id)
    fault = fault_key(t.product_id, t.fault_id)
    return (customer, fault) if customer and fault else None


Figures = dict[str, tuple[int | float | None, ...]]


def expected(raw: Raw, start: datetime, end: datetime, counted: set[int]) -> Figures:
    """Every figure by its definition, ticket by ticket (`counted`: the filtered tickets)."""
    window = [t for t in raw.tickets if start <= t.created_at < end and t.id in counted]
    waits, took, first_contact = [], [], 0
    for t in window:
        if t.id in raw.firsts:
            replied = raw.firsts[t.id]
            bot = [
                line.created_at
                for line in raw.lines
                if line.conversation_id == t.conversation_id
                and line.direction == "out"
                and line.created_at < replied
                and line.action not in (AGENT_ACTION, NOTICE_ACTION)
            ]
            waits.append(replied - max([t.created_at, *bot]))
        done = _done(t)
        if done is not None:
            took.append(done - t.created_at)
            replies = raw.replies.get(t.conversation_id or "", 0)
            first_contact += t.id not in raw.reopened and replies <= 1
    # a repeat or a recurrence is any ticket of the same customer and fault, whatever the
    # window and the filters
    faults = repeats = durable = resolved = 0
    for t in window:
        key = _key(t)
        if key:
            faults += 1
            repeats += any(
                _key(p) == key
                and (p.created_at, p.id) < (t.created_at, t.id)
                and t.created_at - p.created_at <= timedelta(days=30)
                for p in raw.tickets
            )
        done = _done(t)
        if done is not None:
            resolved += 1
            durable += t.id not in raw.reopened and not any(
                key and _key(p) == key and done < p.created_at <= done + timedelta(days=7)
                for p in raw.tickets
            )
    return {
        "first_response": _spread(waits),
        "resolution_time": _spread(took),
        "first_contact": (len(took), first_contact),
        "durable": (resolved, durable),
        "repeat_faults": (faults, repeats),
    }


def figures(k: models.Kpis) -> Figures:
    return {
        "first_response": (
            k.first_response.count,
            k.first_response.p50_seconds,
            k.first_response.avg_seconds,
        ),
        "resolution_time": (
            k.resolution_time.count,
            k.resolution_time.p50_seconds,
            k.resolution_time.avg_seconds,
        ),
        "first_contact": (
            k.first_contact_resolution.resolved,
            k.first_contact_resolution.first_contact,
        ),
        "durable": (k.durable_resolution.resolved, k.durable_resolution.durable),
        "repeat_faults": (k.repeat_faults.tickets_with_fault, k.repeat_faults.repeats),
    }


WINDOWS = [(T0, T0 + 60 * DAY), (T0 + 10 * DAY, T0 + 25 * DAY), (T0 + 40 * DAY, T0 + 41 * DAY)]
FILTERS = [
    models.KpiFilters(),
    models.KpiFilters(channel="wechat"),
    models.KpiFilters(priority="P2", category="repair"),
]


@pytest.mark.parametrize("filters", FILTERS, ids=["all", "channel", "priority+category"])
async def test_fast_path_equals_the_definition(
    sessions: async_sessionmaker[AsyncSession], filters: models.KpiFilters
) -> None:
    await seed(sessions)
    raw = await _raw(sessions)
    counted = {
        t.id
        for t in raw.tickets
        if (not filters.channel or t.channel == filters.channel)
        and (not filters.priority or t.priority == filters.priority)
        and (not filters.category or t.category == filters.category)
    }
    for start, end in WINDOWS:
        want = expected(raw, start, end, counted)
        async with sessions() as session:
            got = await kpis(session, start=start, end=end, now=end, filters=filters)
        assert figures(got) == want, (start, end)
    full = expected(raw, *WINDOWS[0], counted)  # the data reaches every case compared
    answered, (resolved, first_contact) = full["first_response"][0], full["first_contact"]
    (_, repeats), (closed, durable) = full["repeat_faults"], full["durable"]
    assert answered and resolved != first_contact and repeats and closed != durable != 0


async def test_durable_drill_down_lists_the_tickets_the_figure_counts(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await seed(sessions)
    start, end = WINDOWS[0]
    async with sessions() as session:
        got = await kpis(session, start=start, end=end, now=end)
        listed = {
            outcome: await drill(
                session,
                start=start,
                end=end,
                now=end,
                filters=models.KpiFilters(),
                lines={},
                metric="durable_resolution",
                dimension="all",
                group="all",
                outcome=outcome,
            )
            for outcome in ("durable", "not_durable")
        }
    assert len(listed["durable"]) == got.durable_resolution.durable
    assert len(listed["not_durable"]) == got.durable_resolution.resolved - len(listed["durable"])


def expected_reasons(raw: Raw, start: datetime, end: datetime, channel: str | None) -> dict:
    """Hand-off reasons by their definition: per conversation with a hand-off line in the
    window, the bot's line before its first one (complaint tickets first)."""
    channels = {f"c{t.id}": t.channel or "webchat" for t in raw.tickets if t.conversation_id}
    complaints = {t.conversation_id for t in raw.tickets if t.category == "complaint"}
    handed: dict[str, int] = {}
    for line in sorted(raw.lines, key=lambda line: line.id):
        if (
            line.direction == "out"
            and line.action == "handoff"
            and start <= line.created_at < end
            and (not channel or channels[line.conversation_id] == channel)
        ):
            handed.setdefault(line.conversation_id, line.id)
    reasons: Counter[str] = Counter()
    for conversation, first in handed.items():
        before = [
            line.action
            for line in sorted(raw.lines, key=lambda line: line.id)
            if line.conversation_id == conversation and line.direction == "out" and line.id < first
        ]
        action = before[-1] if before else None
        reasons[COMPLAINT if conversation in complaints else REASONS.get(str(action), ASKED)] += 1
    return dict(reasons)


@pytest.mark.parametrize("channel", [None, "wechat"], ids=["all", "channel"])
async def test_handoff_reasons_follow_their_definition(
    sessions: async_sessionmaker[AsyncSession], channel: str | None
) -> None:
    await seed(sessions)
    raw = await _raw(sessions)
    for start, end in WINDOWS:
        async with sessions() as session:
            got = await handoff_reasons(session, start=start, end=end, channel=channel)
        assert got == expected_reasons(raw, start, end, channel), (start, end)
    full = expected_reasons(raw, *WINDOWS[0], None)  # the data reaches every reason
    assert len(full) == 5 and sum(full.values()) > sum(
        expected_reasons(raw, *WINDOWS[0], "wechat").values()
    ), full
