"""Auto-escalation: the pure rules at explicit times, and the job on a real database (each rule
once per ticket, priority one level up, event + audit + outbox rows, one runner per lease)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.triage.policy import EscalationLimits, load_policy
from core.columns import utcnow
from core.database import unit_of_work
from core.settings import Settings
from intake_api.agents.models import Escalation, FirstResponse
from intake_api.agents.rules import (
    COMPLAINT_OPEN,
    FIRST_RESPONSE_OVERDUE,
    UNRESOLVED,
    TicketClock,
    broken_rules,
    new_escalations,
    raised,
)
from intake_api.agents.scheduled import escalate_due, take_lease
from intake_api.app import create_app
from intake_api.audit.models import AuditEntry
from intake_api.deliveries.models import OutboxEvent
from intake_api.tickets import service as tickets
from intake_api.tickets.models import Ticket, TicketEvent, TicketUpdate, parse_ticket_id
from tests.intake_api.agents.conftest import seed_ticket
from tests.intake_api.conftest import ADMIN_KEY
from tests.support.server import running_server

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)
LIMITS = load_policy(None).escalation  # the bundled policy's: 24 h unresolved, 48 h complaints


def clock(**changes: object) -> TicketClock:
    values: dict[str, object] = dict(
        status="assigned",
        category="repair",
        priority="P3",
        created_at=T0,
        sla_due_at=T0 + 8 * H,
        resolution_due_at=T0 + 72 * H,
        first_response_at=None,
    )
    return TicketClock(**(values | changes))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("ticket", "hours", "expected"),
    [
        (clock(), 8, []),  # due time itself is still in time
        (clock(), 8.01, [FIRST_RESPONSE_OVERDUE]),
        (clock(first_response_at=T0 + H), 9, []),
        (clock(first_response_at=T0 + H), 24, [UNRESOLVED]),
        (clock(), 24, [FIRST_RESPONSE_OVERDUE, UNRESOLVED]),
        (clock(first_response_at=T0, resolution_due_at=T0 + 8 * H), 9, [UNRESOLVED]),
        (clock(status="resolved"), 100, []),
        (clock(status="waiting_customer", first_response_at=T0), 23.9, []),
        (clock(category="complaint", first_response_at=T0), 47.9, [UNRESOLVED]),
        (clock(category="complaint", first_response_at=T0), 48, [UNRESOLVED, COMPLAINT_OPEN]),
        (clock(category="complaint", status="resolved"), 48, [COMPLAINT_OPEN]),
        (clock(category="complaint", status="closed"), 480, []),
        (clock(status="cancelled"), 480, []),
    ],
)
def test_broken_rules_at_explicit_times(
    ticket: TicketClock, hours: float, expected: list[str]
) -> None:
    assert broken_rules(ticket, T0 + timedelta(hours=hours), LIMITS) == expected


@pytest.mark.parametrize(
    ("ticket", "hours", "expected"),
    [
        (clock(first_response_at=T0), 5.9, []),
        (clock(first_response_at=T0), 6, [UNRESOLVED]),
        (clock(category="complaint", status="resolved"), 11.9, []),
        (clock(category="complaint", status="resolved"), 12, [COMPLAINT_OPEN]),
    ],
)
def test_other_limits_move_the_unresolved_and_complaint_rules(
    ticket: TicketClock, hours: float, expected: list[str]
) -> None:
    limits = EscalationLimits(unresolved_after_hours=6, complaint_closed_within_hours=12)
    assert broken_rules(ticket, T0 + timedelta(hours=hours), limits) == expected


def test_each_rule_fires_once_and_priority_rises_to_p1() -> None:
    fired = {FIRST_RESPONSE_OVERDUE}
    assert new_escalations(clock(), T0 + 30 * H, fired, LIMITS) == [UNRESOLVED]
    assert new_escalations(clock(), T0 + 30 * H, fired | {UNRESOLVED}, LIMITS) == []
    assert [raised(p) for p in ("P4", "P3", "P2", "P1")] == ["P3", "P2", "P1", "P1"]


async def _rows(sessions: async_sessionmaker[AsyncSession], model: type, **where: object) -> list:
    async with sessions() as session:
        query = select(model).filter_by(**where)
        return list(await session.scalars(query))


async def test_job_escalates_overdue_tickets_once_with_event_audit_and_delivery(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    fresh = await seed_ticket(sessions, priority="P3")
    old = await seed_ticket(sessions, priority="P3")
    async with sessions() as session:
        created = (await session.get(Ticket, parse_ticket_id(old))).created_at
    now = created + 25 * H  # P3 standard: response due after 24 h, resolution after 168 h

    events = await escalate_due(sessions, now=now)

    assert {event.ticket_id for event in events} == {parse_ticket_id(fresh), parse_ticket_id(old)}
    async with sessions() as session:
        ticket = await session.get(Ticket, parse_ticket_id(old))
    assert ticket.priority == "P2"
    fired = await _rows(sessions, Escalation, ticket_id=ticket.id)
    assert sorted(row.rule for row in fired) == [FIRST_RESPONSE_OVERDUE, UNRESOLVED]
    assert {(row.from_priority, row.to_priority) for row in fired} == {("P3", "P2")}
    (event,) = await _rows(sessions, TicketEvent, ticket_id=ticket.id, kind="ticket.escalated")
    assert "no first response" in event.note and event.actor == "system:auto-escalation"
    (audit,) = await _rows(sessions, AuditEntry, entity_id=old, action="ticket.escalated")
    assert audit.changes["priority"] == "P2" and audit.changes["previous_priority"] == "P3"
    (outbox,) = await _rows(sessions, OutboxEvent, ticket_id=old, event="ticket.escalated")
    assert json.loads(outbox.body)["ticket"]["priority"] == "P2"

    assert await escalate_due(sessions, now=now + H) == []  # nothing new fired


async def test_a_person_answering_stops_the_first_response_rule(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    ticket_id = await seed_ticket(sessions, priority="P2")  # response due in 8 h
    number = parse_ticket_id(ticket_id)
    async with unit_of_work(sessions) as session:
        created = (await session.get(Ticket, number)).created_at
        session.add(FirstResponse(ticket_id=number, agent="apikey:1:alice", at=created + H))
    assert await escalate_due(sessions, now=created + 9 * H) == []
    (event,) = await escalate_due(sessions, now=created + 24 * H)
    assert [row.rule for row in await _rows(sessions, Escalation, ticket_id=number)] == [UNRESOLVED]
    assert event.ticket_id == number


async def test_complaints_are_escalated_again_when_not_closed_in_48_hours(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    ticket_id = await seed_ticket(sessions, category="complaint", priority="P3")
    number = parse_ticket_id(ticket_id)
    async with unit_of_work(sessions) as session:
        created = (await session.get(Ticket, number)).created_at
        for status in ("in_progress", "resolved"):
            await tickets.update_ticket(
                session, ticket_id=ticket_id, data=TicketUpdate(status=status), actor="t"
            )
    (event,) = await escalate_due(sessions, now=created + 48 * H)
    assert event.kind == "ticket.escalated"
    assert [row.rule for row in await _rows(sessions, Escalation, ticket_id=number)] == [
        COMPLAINT_OPEN
    ]
    async with sessions() as session:
        assert (await session.get(Ticket, number)).priority == "P2"


async def test_one_worker_holds_the_lease_until_it_expires(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    ttl = timedelta(seconds=60)

    async def take(holder: str, at: datetime) -> bool:
        async with unit_of_work(sessions) as session:
            return await take_lease(session, job="test-job", holder=holder, now=at, ttl=ttl)

    assert await take("worker-a", T0) is True
    assert await take("worker-b", T0 + timedelta(seconds=30)) is False
    assert await take("worker-a", T0 + timedelta(seconds=50)) is True  # renewed to T0+110 s
    assert await take("worker-b", T0 + timedelta(seconds=100)) is False
    assert await take("worker-b", T0 + timedelta(seconds=111)) is True
    assert await take("worker-a", T0 + timedelta(seconds=120)) is False


async def test_the_running_service_escalates_on_its_own(
    intake_settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ticket_id = await seed_ticket(sessions, priority="P4")
    async with unit_of_work(sessions) as session:
        await session.execute(
            update(Ticket)
            .where(Ticket.id == parse_ticket_id(ticket_id))
            .values(sla_due_at=utcnow() - H)
        )
    settings = intake_settings.model_copy(update={"escalation_interval_seconds": 0.2})
    ticket, queue = await _serve_until_priority_moves(settings, ticket_id, "P4")
    item = queue["items"][0]
    assert ticket["priority"] == "P3"
    assert item["escalated"] is True and item["escalation_rules"] == [FIRST_RESPONSE_OVERDUE]
    assert item["response_breached"] is True


async def test_the_service_escalates_by_the_limits_of_its_policy_file(
    intake_settings: Settings, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    policy = tmp_path / "sla.yaml"
    policy.write_text("escalation:\n  unresolved_after_hours: 2\n", encoding="utf-8")
    ticket_id = await seed_ticket(sessions, priority="P3")  # due: response 24 h, resolution 168 h
    async with unit_of_work(sessions) as session:
        created = (await session.get(Ticket, parse_ticket_id(ticket_id))).created_at
    three_hours_later = created + 3 * H
    assert await escalate_due(sessions, now=three_hours_later) == []  # 24 h by default

    await _backdate(sessions, ticket_id, 3 * H)  # the running service's clock is the real one
    settings = intake_settings.model_copy(
        update={"escalation_interval_seconds": 0.2, "sla_policy_file": policy}
    )
    ticket, _queue = await _serve_until_priority_moves(settings, ticket_id, "P3")
    assert ticket["priority"] == "P2"
    rows = await _rows(sessions, Escalation, ticket_id=parse_ticket_id(ticket_id))
    assert [row.rule for row in rows] == [UNRESOLVED]
    (event,) = await _rows(
        sessions, TicketEvent, ticket_id=parse_ticket_id(ticket_id), kind="ticket.escalated"
    )
    assert "unresolved 2 h after creation" in event.note


async def _serve_until_priority_moves(
    settings: Settings, ticket_id: str, priority: str
) -> tuple[dict, dict]:
    """Run the service until the ticket's priority is no longer `priority` (30 s at most);
    the ticket and the agent queue as they are then."""
    with running_server(create_app(settings)) as base:
        async with httpx.AsyncClient(
            base_url=base, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
        ) as admin:
            for _ in range(300):
                ticket = (await admin.get(f"/v1/tickets/{ticket_id}")).json()
                if ticket["priority"] != priority:
                    break
                await asyncio.sleep(0.1)
            queue = (await admin.get("/v1/agent/queue")).json()
    return ticket, queue


async def _backdate(
    sessions: async_sessionmaker[AsyncSession], ticket_id: str, by: timedelta
) -> None:
    """Move a ticket's creation and due times `by` into the past."""
    async with unit_of_work(sessions) as session:
        ticket = await session.get(Ticket, parse_ticket_id(ticket_id))
        ticket.created_at -= by
        ticket.sla_due_at -= by
        ticket.resolution_due_at -= by
