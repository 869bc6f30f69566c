"""Fixtures for delivery tests: a real backend on loopback and settings pointing at it."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.database import unit_of_work
from core.settings import Settings
from intake_api.deliveries.outbox import enqueue
from tests.intake_api.deliveries.receiver import Receiver, receiver_running

SECRET = "s3cret-for-tests"
DEADLINE_SECONDS = 60.0


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiver_running() as backend:
        yield backend


@pytest.fixture
def delivery_settings(settings: Settings, receiver: Receiver) -> Settings:
    """Deliveries to the test backend with back-off in milliseconds, so tests stay fast."""
    return settings.model_copy(
        update={
            "webhook_url": receiver.url,
            "webhook_secret": SECRET,
            "delivery_backoff_base_seconds": 0.02,
            "delivery_backoff_cap_seconds": 0.2,
            "delivery_poll_seconds": 0.05,
            "delivery_timeout_seconds": 10.0,
            "delivery_lease_seconds": 20.0,
            "delivery_max_attempts": 1000,
        }
    )


async def enqueue_events(
    sessions: async_sessionmaker[AsyncSession], *, tickets: int, events_per_ticket: int
) -> dict[str, list[str]]:
    """Enqueue events round-robin over tickets, one transaction each; ids per ticket in order."""
    enqueued: dict[str, list[str]] = {}
    for n in range(events_per_ticket):
        for t in range(tickets):
            ticket_id = f"T-{t}"
            async with unit_of_work(sessions) as session:
                event_id = enqueue(
                    session,
                    ticket_id=ticket_id,
                    event="ticket.created" if n == 0 else "ticket.updated",
                    ticket={"id": ticket_id, "revision": n},
                )
            enqueued.setdefault(ticket_id, []).append(event_id)
    return enqueued


async def eventually(
    condition: Callable[[], object], what: str, within: float = DEADLINE_SECONDS
) -> None:
    """Poll `condition` (plain or async) until it holds; fail naming `what` if it never does."""
    deadline = time.monotonic() + within
    while True:
        result = condition()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for: {what}")
        await asyncio.sleep(0.02)
