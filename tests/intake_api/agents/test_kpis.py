"""KPIs on seeded data with exact expected numbers (SQLite and PostgreSQL), and the route."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.dialogue.models import Conversation, ConversationMessage
from core.database import unit_of_work
from intake_api.agents.models import AgentActivity, Csat, FirstResponse
from intake_api.kpis.export import kb_draft
from intake_api.kpis.models import KnowledgeGap, KpiFilters
from intake_api.kpis.service import drill, kpis
from intake_api.tickets.models import Ticket, TicketEvent
from intake_api.tickets.outcomes import store_outcomes
from knowledge_base.loader import read_knowledge_base
from tests.intake_api.agents.conftest import Service, api_key, client

T0 = datetime(2026, 3, 2, tzinfo=UTC)
H, D, M = timedelta(hours=1), timedelta(days=1), timedelta(minutes=1)
END = T0 + 10 * D
_numbers = itertools.count(1)


def conversation(cid: str, channel: str, created: datetime, status: str = "open") -> Conversation:
    return Conversation(
        id=cid,
        channel=channel,
        sender_id=f"s-{cid}",
        live_key=None,
        status=status,
        lang="en",
        state={},
        slots={},
        customer={},
        created_at=created,
        updated_at=created,
    )


def line(
    cid: str, direction: str, text: str, at: datetime, action: str | None = None
) -> ConversationMessage:
    return ConversationMessage(
        conversation_id=cid, direction=direction, text=text, action=action, created_at=at
    )


def ticket(
    *,
    priority: str,
    category: str,
    created: datetime,
    response_hours: float,
    resolution_hours: float,
    status: str = "assigned",
    resolved: datetime | None = None,
    channel: str | None = None,
    conversation_id: str | None = None,
    phone: str | None = None,
    fault: str | None = None,
) -> Ticket:
    number = next(_numbers)
    return Ticket(
        status=status,
        priority=priority,
        category=category,
        skill_group="general",
        subject=f"ticket {number}",
        customer_phone=phone,
        customer_tier="standard",
        product_id="AC-300" if fault else None,
        fault_id=fault,
        channel=channel,
        conversation_id=conversation_id,
        status_token=f"token-{number}-{T0.timestamp()}",
        triage_reasons=[],
        sla_due_at=created + timedelta(hours=response_hours),
        resolution_due_at=created + timedelta(hours=resolution_hours),
        created_at=created,
        updated_at=resolved or created,
        resolved_at=resolved,
        last_seq=1,
    )


async def seed(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Five conversations and six tickets in [T0, T0+10 d), and some just outside."""
    async with unit_of_work(sessions) as session:
        session.add_all(
            [
                conversation("c1", "wechat", T0 + H),  # the bot alone
                conversation("c2", "wechat", T0 + 2 * H),  # the bot alone
                conversation("c3", "telegram", T0 + 3 * H, status="closed"),  # was handed off
                conversation("c4", "webchat", T0 + 4 * H),  # an agent replied
                conversation("c5", "webchat", T0 + 5 * H),  # the bot opened a ticket
                conversation("c0", "webchat", T0 - D),  # before the window
            ]
        )
        await session.flush()
        session.add_all(
            [
                ConversationMessage(
                    conversation_id="c1", direction="out", text="a", action="answer"
                ),
                ConversationMessage(
                    conversation_id="c3", direction="out", text="h", action="handoff"
                ),
            ]
        )
        await session.flush()
        session.add_all(
            [
                line("c4", "in", "E35 on my pump", T0 + 4 * H),
                line("c4", "out", "sorry", T0 + 4 * H + M, "fallback"),
                line("c2", "in", "my pump shows e-35 again", T0 + 2 * H),
                line("c2", "out", "sorry", T0 + 2 * H + M, "fallback"),
                line("c1", "in", "How do I descale the boiler?", T0 + H),
                line("c1", "out", "sorry", T0 + H + M, "fallback"),
                line("c3", "out", "which one?", T0 + 3 * H, "clarify"),
                line("c3", "out", "a person will help", T0 + 3 * H + M, "handoff"),
                line("c5", "out", "a person will help", T0 + D, "handoff"),
                line("c0", "in", "E99 before the window", T0 - D),
                line("c0", "out", "sorry", T0 - D + M, "fallback"),
            ]
        )
        t1 = ticket(
            priority="P1",
            category="repair",
            created=T0 + H,
            response_hours=1,
            resolution_hours=8,
            status="resolved",
            resolved=T0 + 5 * H,
            channel="telegram",
            conversation_id="c3",
            phone="111",
            fault="F-1",
        )
        t2 = ticket(
            priority="P1",
            category="repair",
            created=T0 + 2 * H,
            response_hours=1,
            resolution_hours=8,
            status="closed",
            resolved=T0 + 12 * H,
            channel="wechat",
            phone="222",
            fault="F-1",
        )
        t3 = ticket(
            priority="P2",
            category="complaint",
            created=T0 + D,
            response_hours=4,
            resolution_hours=48,
            channel="webchat",
            conversation_id="c5",
            phone="111",
            fault="F-1",
        )
        t4 = ticket(
            priority="P3",
            category="repair",
            created=T0 + 2 * D,
            response_hours=24,
            resolution_hours=168,
            status="resolved",
            resolved=T0 + 2 * D + 30 * H,
        )
        t5 = ticket(
            priority="P4",
            category="consulting",
            created=T0 + 3 * D,
            response_hours=48,
            resolution_hours=240,
            status="cancelled",
        )
        t6 = ticket(
            priority="P3",
            category="repair",
            created=T0 - 5 * D,
            response_hours=24,
            resolution_hours=168,
            channel="wechat",
            phone="222",
            fault="F-2",
        )
        t7 = ticket(
            priority="P3",
            category="repair",
            created=T0 + 4 * D,
            response_hours=24,
            resolution_hours=168,
            channel="wechat",
            phone="222",
            fault="F-2",
        )
        t8 = ticket(
            priority="P1",
            category="repair",
            created=END,
            response_hours=1,
            resolution_hours=8,
            channel="wechat",
            phone="111",
            fault="F-1",
        )
        session.add_all([t1, t2, t3, t4, t5, t6, t7, t8])
        await session.flush()
        session.add_all(
            [
                FirstResponse(ticket_id=t1.id, agent="a", at=T0 + 90 * timedelta(minutes=1)),
                FirstResponse(ticket_id=t2.id, agent="a", at=T0 + 4 * H),
                FirstResponse(ticket_id=t4.id, agent="a", at=T0 + 2 * D + H),
                TicketEvent(
                    ticket_id=t4.id,
                    seq=2,
                    kind="ticket.status_changed",
                    status="in_progress",
                    previous_status="resolved",
                    actor="a",
                    at=T0 + 2 * D + 20 * H,
                ),
                AgentActivity(agent="a", kind="reply", conversation_id="c3", at=T0 + 2 * H),
                AgentActivity(agent="a", kind="reply", conversation_id="c3", at=T0 + 3 * H),
                AgentActivity(agent="a", kind="reply", conversation_id="c4", at=T0 + 5 * H),
                Csat(ticket_id=t1.id, score=5, answered_at=T0 + 6 * H, surveyed_at=T0 + 5 * H),
                Csat(ticket_id=t2.id, score=2, answered_at=T0 + 13 * H, surveyed_at=T0 + 12 * H),
                Csat(ticket_id=t4.id, score=4, answered_at=T0 + 3 * D, surveyed_at=T0 + 2 * D),
                Csat(ticket_id=t7.id, surveyed_at=T0 + 5 * D),  # never answered
                Csat(ticket_id=t6.id, score=1, answered_at=T0 - D),  # before the window
            ]
        )
        # what the service stores as it opens tickets (the migration's backfill for rows
        # loaded around it): which repeat a fault, which came back after their resolution
        await session.execute(store_outcomes())


def compliance(met: int, breached: int, rate: float | None) -> dict:
    return {"met": met, "breached": breached, "rate": rate}


async def test_kpis_of_seeded_data(sessions: async_sessionmaker[AsyncSession]) -> None:
    await seed(sessions)
    async with sessions() as session:
        result = (await kpis(session, start=T0, end=END, now=END)).model_dump(by_alias=True)

    assert result["tickets"] == 6
    assert result["ai_handling"] == {"conversations": 5, "bot_only": 2, "share": 0.4}
    assert result["first_response"] == {"count": 3, "p50_seconds": 3600.0, "avg_seconds": 4200.0}
    assert result["first_contact_resolution"] == {
        "resolved": 3,  # t1 (two agent replies), t2 (none), t4 (reopened)
        "first_contact": 1,
        "rate": 0.3333,
    }
    sla = result["sla"]
    assert sla["P1"] == {"response": compliance(1, 1, 0.5), "resolution": compliance(1, 1, 0.5)}
    assert sla["P2"] == {"response": compliance(0, 1, 0.0), "resolution": compliance(0, 1, 0.0)}
    assert sla["P3"] == {"response": compliance(1, 1, 0.5), "resolution": compliance(1, 0, 1.0)}
    assert sla["P4"] == {"response": compliance(0, 0, None), "resolution": compliance(0, 0, None)}
    assert sla["all"] == {"response": compliance(2, 3, 0.4), "resolution": compliance(2, 2, 0.5)}
    assert result["sla_by"]["tier"] == {"standard": sla["all"]}
    assert result["sla_by"]["agent"] == {"(unassigned)": sla["all"]}
    assert result["csat"] == {
        "count": 3,
        "avg": 3.667,
        "distribution": {"1": 0, "2": 1, "3": 0, "4": 1, "5": 1},
        "surveyed": 4,
        "response_rate": 0.75,
    }
    assert result["repeat_faults"] == {
        "tickets_with_fault": 4,
        "repeats": 2,
        "share": 0.5,
        "unit_repeats": 0,  # no equipment alarms here
    }
    assert result["volume"] == {
        "conversations_by_channel": {"telegram": 1, "webchat": 2, "wechat": 2},
        "tickets_by_channel": {"api": 2, "telegram": 1, "webchat": 1, "wechat": 2},
        "tickets_by_category": {"complaint": 1, "consulting": 1, "repair": 4},
        "tickets_by_product_line": {"(none)": 6},
    }
    # t1 came back within 7 days (t3: same customer and fault), t4 was reopened, t2 held
    assert result["durable_resolution"] == {"resolved": 3, "durable": 1, "rate": 0.3333}
    assert result["resolution_time"] == {
        "count": 3,
        "p50_seconds": 36000.0,
        "avg_seconds": 52800.0,
    }
    assert result["handoff_reasons"] == {"declined the choices": 1, "complaint": 1}
    gaps = [(g["label"], g["count"], g["examples"]) for g in result["knowledge_gaps"]]
    assert gaps == [
        ("E35", 2, ["my pump shows e-35 again", "E35 on my pump"]),  # latest first
        ("descale boiler", 1, ["How do I descale the boiler?"]),
    ]


async def test_first_response_starts_at_the_last_bot_line_before_it(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The bot talking on after the ticket was opened moves the hand-off: the person's clock
    starts at the bot's last line before their reply, never at a bot line after it."""
    await seed(sessions)
    async with unit_of_work(sessions) as session:
        session.add_all(
            [
                line("c3", "out", "still looking", T0 + 80 * M, "clarify"),  # t1 answered at 90
                line("c3", "out", "after the reply", T0 + 100 * M, "answer"),
            ]
        )
    async with sessions() as session:
        result = await kpis(session, start=T0, end=END, now=END)
    # t1: 90 - 80 = 10 min instead of 30; t2 and t4 stay at 2 h and 1 h
    assert result.first_response.count == 3
    assert result.first_response.p50_seconds == 3600.0
    assert result.first_response.avg_seconds == round((600 + 7200 + 3600) / 3, 3)


async def test_filters_product_lines_and_drill_down_match_the_figures(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await seed(sessions)
    lines = {"AC-300": "compressors"}
    async with sessions() as session:
        p1 = await kpis(
            session, start=T0, end=END, now=END, filters=KpiFilters(priority="P1"), lines=lines
        )
        everything = await kpis(session, start=T0, end=END, now=END, lines=lines)
        breached = await drill(
            session,
            start=T0,
            end=END,
            now=END,
            filters=KpiFilters(),
            lines=lines,
            metric="sla.response",
            dimension="priority",
            group="P1",
            outcome="breached",
        )
        compressors = await drill(
            session,
            start=T0,
            end=END,
            now=END,
            filters=KpiFilters(),
            lines=lines,
            metric="volume",
            dimension="product_line",
            group="compressors",
            outcome="all",
        )
        not_durable = await drill(
            session,
            start=T0,
            end=END,
            now=END,
            filters=KpiFilters(),
            lines=lines,
            metric="durable_resolution",
            dimension="all",
            group="all",
            outcome="not_durable",
        )
    assert p1.tickets == 2 and p1.sla["P2"].response.breached == 0
    assert everything.volume.tickets_by_product_line == {"(none)": 2, "compressors": 4}
    assert len(breached) == everything.sla["P1"].response.breached == 1
    assert all(t.product_id == "AC-300" for t in compressors)
    assert len(compressors) == 4
    assert len(not_durable) == 2 and {t.status for t in not_durable} == {"resolved"}


def test_a_knowledge_gap_exports_as_a_kb_file_that_validates(tmp_path: Path) -> None:
    gap = KnowledgeGap(label="E35", count=2, examples=["E35 on my pump", "e-35 again"], lang="en")
    path = tmp_path / "draft.yaml"
    path.write_text(kb_draft(gap), encoding="utf-8")
    kb = read_knowledge_base(path)
    (faq,) = kb.faqs
    assert faq.id.startswith("GAP-E35-") and "e-35 again" in str(faq.questions)


async def test_kpis_route_takes_a_window_and_the_agents_scope(
    service: Service, alice: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await seed(sessions)
    answer = await alice.get("/v1/kpis", params={"from": T0.isoformat(), "to": "2026-03-12T00:00"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["from"], body["to"]) == ("2026-03-02T00:00:00Z", "2026-03-12T00:00:00Z")
    assert body["csat"]["count"] == 3 and body["tickets"] == 6

    backwards = await alice.get("/v1/kpis", params={"from": "2026-03-12", "to": "2026-03-02"})
    assert backwards.status_code == 422 and "after" in backwards.json()["message"]
    assert (await alice.get("/v1/kpis", params={"from": "yesterday"})).status_code == 422
    async with client(service.base, await api_key(service.base, "w", ["tickets:write"])) as w:
        assert (await w.get("/v1/kpis")).status_code == 403
