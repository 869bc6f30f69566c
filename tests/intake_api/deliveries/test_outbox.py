"""`enqueue` writes into the caller's transaction only, with the documented body."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.database import unit_of_work
from intake_api.deliveries.models import DeliveryStatus, OutboxEvent
from intake_api.deliveries.outbox import enqueue


async def test_enqueue_commits_with_the_callers_transaction(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with unit_of_work(sessions) as session:
        event_id = enqueue(
            session, ticket_id="T-1", event="ticket.created", ticket={"id": "T-1", "n": 1}
        )
    async with sessions() as session:
        row = (await session.execute(select(OutboxEvent))).scalar_one()
    assert len(event_id) == 32 and int(event_id, 16) >= 0
    assert row.event_id == event_id and row.status == DeliveryStatus.pending
    body = json.loads(row.body)
    assert {k: body[k] for k in ("event_id", "event", "ticket")} == {
        "event_id": event_id,
        "event": "ticket.created",
        "ticket": {"id": "T-1", "n": 1},
    }
    assert row.created_at.tzinfo is not None


async def test_enqueue_is_rolled_back_with_the_callers_transaction(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    with pytest.raises(RuntimeError):
        async with unit_of_work(sessions) as session:
            enqueue(session, ticket_id="T-1", event="ticket.created", ticket={"id": "T-1"})
            raise RuntimeError("the change failed")
    async with sessions() as session:
        count = await session.scalar(select(func.count()).select_from(OutboxEvent))
    assert count == 0
