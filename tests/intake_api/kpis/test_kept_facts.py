"""The KPI facts kept in step with the writes (the first-response wait stored with the reply,
the tickets' generated customer and fault keys) equal their definition recomputed from the raw
rows after each kind of write the service makes: a ticket opened, an agent's reply after a
hand-off, a resolution, a reopening, a new ticket for the same unit and fault, a closing; and
the tickets' stored repeat and recurrence flags equal their recomputation; and the figures
over them equal the ticket-by-ticket computation of `test_fast_path` (SQLite and PostgreSQL).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.dialogue.models import Conversation, ConversationMessage
from bot.triage import load_policy
from core.columns import utcnow
from core.database import unit_of_work
from intake_api.agents import service as agents
from intake_api.agents.models import FirstResponse
from intake_api.kpis.facts import store_waits
from intake_api.kpis.service import kpis
from intake_api.tickets import service as tickets
from intake_api.tickets.models import Customer, Ticket, TicketCreate, TicketStatus, TicketUpdate
from intake_api.tickets.outcomes import customer_key, fault_key, store_outcomes
from tests.intake_api.kpis.test_fast_path import _raw, expected, figures

AGENT = "agent:ann"
DAY = timedelta(days=1)


async def _conversation(session: AsyncSession, cid: str, *actions: str | None) -> None:
    """A conversation whose customer asked and whose bot answered with `actions`, in order."""
    now = utcnow()
    session.add(
        Conversation(
            id=cid,
            channel="webchat",
            sender_id=f"s-{cid}",
            live_key=None,
            status="handoff",
            lang="en",
            state={},
            slots={},
            customer={},
            created_at=now,
            updated_at=now,
        )
    )
    await session.flush()
    for number, action in enumerate(actions):
        moment = now + timedelta(milliseconds=number)
        session.add(
            ConversationMessage(
                conversation_id=cid, direction="in", text="E35 again", created_at=moment
            )
        )
        session.add(
            ConversationMessage(
                conversation_id=cid, direction="out", text="bot", action=action, created_at=moment
            )
        )


async def _open(session: AsyncSession, cid: str | None, phone: str) -> Ticket:
    data = TicketCreate(
        subject="pump E35",
        customer=Customer(phone=phone),
        product_id="AC-300",
        fault_id="E35",
        channel="webchat" if cid else None,
        conversation_id=cid,
        sender_id=f"s-{cid}" if cid else None,
    )
    created, _ = await tickets.create(session, data=data, actor=AGENT, policy=load_policy())
    return created


async def _move(sessions: async_sessionmaker[AsyncSession], ticket: Ticket, to: str) -> None:
    async with unit_of_work(sessions) as session:
        await tickets.update_ticket(
            session,
            ticket_id=ticket.public_id,
            data=TicketUpdate(status=TicketStatus(to)),
            actor=AGENT,
        )


async def _check(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Stored facts = their recomputation; figures = the definition, ticket by ticket."""
    async with sessions() as session:
        stored = {
            row.ticket_id: row.wait_us for row in await session.scalars(select(FirstResponse))
        }
        keys = list(
            await session.execute(
                select(
                    Ticket.customer_key,
                    Ticket.fault_key,
                    Ticket.customer_phone,
                    Ticket.customer_email,
                    Ticket.channel,
                    Ticket.sender_id,
                    Ticket.product_id,
                    Ticket.fault_id,
                )
            )
        )
    for customer, fault, phone, email, channel, sender, product, fault_id in keys:
        assert customer == customer_key(phone, email, channel, sender)
        assert fault == fault_key(product, fault_id)
    raw = await _raw(sessions)
    start, end = utcnow() - DAY, utcnow() + DAY
    want = expected(raw, start, end, {t.id for t in raw.tickets})
    for source in (None, sessions):  # one session; the factory's reads at once
        if source is None:
            async with sessions() as session:
                got = await kpis(session, start=start, end=end, now=end)
        else:
            got = await kpis(source, start=start, end=end, now=end)
        assert figures(got) == want
    # the stored waits are what the backfill computes from the lines, and the tickets' repeat
    # and recurrence flags what it computes from the tickets
    kept = await _outcomes(sessions)
    async with unit_of_work(sessions) as session:
        await session.execute(update(FirstResponse).values(wait_us=None))
        await session.execute(store_waits())
        await session.execute(update(Ticket).values(repeats_fault=False, fault_recurred=False))
        await session.execute(store_outcomes())
        recomputed = {
            row.ticket_id: row.wait_us for row in await session.scalars(select(FirstResponse))
        }
    assert stored == recomputed
    assert kept == await _outcomes(sessions)


async def _outcomes(sessions: async_sessionmaker[AsyncSession]) -> dict[int, tuple[bool, bool]]:
    async with sessions() as session:
        rows = await session.execute(select(Ticket.id, Ticket.repeats_fault, Ticket.fault_recurred))
        return {number: (repeats, recurred) for number, repeats, recurred in rows}


async def test_facts_follow_every_kind_of_write(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with unit_of_work(sessions) as session:  # a hand-off after an answer and a clarify
        await _conversation(session, "c1", "answer", "clarify", "handoff")
        first = await _open(session, "c1", "+86 1")
    await _check(sessions)

    async with unit_of_work(sessions) as session:  # a person's first reply
        _, answered = await agents.record_reply(
            session, conversation_id="c1", agent=AGENT, text="on my way", channel_logs=bool
        )
    assert answered == [first.public_id]
    async with sessions() as session:
        wait = await session.scalar(
            select(FirstResponse.wait_us).where(FirstResponse.ticket_id == first.id)
        )
    assert wait is not None and wait > 0
    await _check(sessions)

    async with unit_of_work(sessions) as session:  # bot lines after the reply change nothing
        session.add(
            ConversationMessage(conversation_id="c1", direction="out", text="bot", action="answer")
        )
    await _check(sessions)

    await _move(sessions, first, "in_progress")
    await _move(sessions, first, "resolved")  # durable so far
    await _check(sessions)
    await _move(sessions, first, "in_progress")  # reopened: not durable, not first contact
    await _check(sessions)
    await _move(sessions, first, "resolved")
    async with unit_of_work(sessions) as session:  # the same unit and fault again: a repeat,
        await _conversation(session, "c2", "fallback")  # and the first is no longer durable
        await _open(session, "c2", "+86 1")
        await _open(session, None, "+86 2")  # another customer: neither
    await _check(sessions)
    async with sessions() as session:
        got = await kpis(session, start=utcnow() - DAY, end=utcnow() + DAY, now=utcnow())
    assert (got.repeat_faults.tickets_with_fault, got.repeat_faults.repeats) == (3, 1)
    assert (got.durable_resolution.resolved, got.durable_resolution.durable) == (1, 0)
    assert got.first_response.count == 1

    async with unit_of_work(sessions) as session:  # resolved once, never reopened: durable
        third = await _open(session, None, "+86 3")
    await _move(sessions, third, "in_progress")
    await _move(sessions, third, "resolved")
    await _check(sessions)
    assert (await _outcomes(sessions))[third.id] == (False, False)
    async with unit_of_work(sessions) as session:  # until the fault comes back within 7 days
        again = await _open(session, None, "+86 3")
    await _move(sessions, third, "closed")  # closing keeps the resolution and its verdict
    await _check(sessions)
    flags = await _outcomes(sessions)
    assert flags[third.id] == (False, True) and flags[again.id] == (True, False)
