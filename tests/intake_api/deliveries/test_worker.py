"""The delivery worker against a real backend on loopback: signed, in order, retried, leased."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.database import unit_of_work
from core.settings import Settings
from intake_api.deliveries import service
from intake_api.deliveries.models import DeliveryStatus, OutboxEvent, utcnow
from intake_api.deliveries.signing import EVENT_HEADER, EVENT_ID_HEADER
from intake_api.deliveries.worker import DeliveryConfig, DeliveryWorker
from tests.intake_api.deliveries.conftest import SECRET, enqueue_events, eventually
from tests.intake_api.deliveries.receiver import Receiver, first_arrival_order


@asynccontextmanager
async def running_worker(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> AsyncIterator[DeliveryWorker]:
    worker = DeliveryWorker(sessions, DeliveryConfig.from_settings(settings))
    await worker.start()
    try:
        yield worker
    finally:
        await worker.stop()


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def rows(sessions: async_sessionmaker[AsyncSession]) -> list[OutboxEvent]:
    async with sessions() as session:
        return await service.list_events(session, limit=10_000)


async def all_delivered(sessions: async_sessionmaker[AsyncSession]) -> bool:
    return all(row.status == DeliveryStatus.delivered for row in await rows(sessions))


async def test_delivery_is_signed_with_the_secret(
    sessions: async_sessionmaker[AsyncSession], delivery_settings: Settings, receiver: Receiver
) -> None:
    enqueued = await enqueue_events(sessions, tickets=1, events_per_ticket=1)
    delivered_before = sample("aftersales_deliveries_delivered_total")
    lags_before = sample("aftersales_delivery_lag_seconds_count")
    async with running_worker(sessions, delivery_settings):
        await eventually(lambda: receiver.accepted(), "the delivery")
    assert sample("aftersales_deliveries_delivered_total") == delivered_before + 1
    assert sample("aftersales_delivery_lag_seconds_count") == lags_before + 1
    (request,) = receiver.accepted()
    [event_id] = enqueued["T-0"]
    assert request.signed_with(SECRET)
    assert not request.signed_with("another secret")
    assert request.headers[EVENT_ID_HEADER] == event_id
    assert request.headers[EVENT_HEADER] == "ticket.created"
    payload = request.json
    assert payload["event_id"] == event_id and payload["event"] == "ticket.created"
    assert payload["ticket"] == {"id": "T-0", "revision": 0}
    [row] = await rows(sessions)
    assert row.status == DeliveryStatus.delivered and row.attempts == 1


async def test_a_backend_down_then_failing_gets_everything_in_order_once_back(
    sessions: async_sessionmaker[AsyncSession], delivery_settings: Settings, receiver: Receiver
) -> None:
    receiver.down()
    enqueued = await enqueue_events(sessions, tickets=6, events_per_ticket=4)
    first_events = {ids[0] for ids in enqueued.values()}

    async def first_events_retried() -> bool:
        return all(r.attempts >= 2 for r in await rows(sessions) if r.event_id in first_events)

    async with running_worker(sessions, delivery_settings):
        await eventually(first_events_retried, "retries while the backend is down")
        receiver.answer = 503
        receiver.up()
        await eventually(lambda: len(receiver.requests) >= 12, "attempts answered 503")
        receiver.answer = 200
        await eventually(lambda: all_delivered(sessions), "every delivery")

    assert all(r.signed_with(SECRET) for r in receiver.requests)
    assert sorted(receiver.accepted_ids()) == sorted(i for ids in enqueued.values() for i in ids)
    assert first_arrival_order(receiver.accepted()) == enqueued
    assert not any(
        r.json["event_id"] not in first_events for r in receiver.requests if r.status == 503
    ), "a later event of a ticket went out while an earlier one was undelivered"


async def test_dead_letter_holds_the_tickets_later_events_until_replayed(
    sessions: async_sessionmaker[AsyncSession], delivery_settings: Settings, receiver: Receiver
) -> None:
    receiver.answer = 503
    settings = delivery_settings.model_copy(update={"delivery_max_attempts": 3})
    enqueued = await enqueue_events(sessions, tickets=2, events_per_ticket=2)
    dead_before = sample("aftersales_deliveries_dead_total")
    failed_before = sample("aftersales_delivery_attempts_failed_total", reason="http_5xx")

    async def first_events_dead() -> bool:
        return sum(r.status == DeliveryStatus.dead for r in await rows(sessions)) == 2

    async with running_worker(sessions, settings):
        await eventually(first_events_dead, "dead-lettering after 3 attempts")
        snapshot = {r.event_id: r for r in await rows(sessions)}
        async with sessions() as session:
            counts = await service.stats(session)
        receiver.answer = 200
        async with unit_of_work(sessions) as session:
            assert await service.replay_dead(session) == 2
        await eventually(lambda: all_delivered(sessions), "delivery after replay")

    for ids in enqueued.values():
        first, later = snapshot[ids[0]], snapshot[ids[1]]
        assert (first.status, first.attempts, first.last_status_code) == ("dead", 3, 503)
        assert (later.status, later.attempts) == ("pending", 0)
    assert (counts.dead, counts.held, counts.pending) == (2, 2, 2)
    assert len(receiver.requests) == 2 * 3 + 4
    assert sample("aftersales_deliveries_dead_total") == dead_before + 2
    assert sample("aftersales_delivery_attempts_failed_total", reason="http_5xx") == (
        failed_before + 6
    )
    assert first_arrival_order(receiver.accepted()) == enqueued


async def test_a_rejection_is_dead_lettered_at_once(
    sessions: async_sessionmaker[AsyncSession], delivery_settings: Settings, receiver: Receiver
) -> None:
    receiver.answer = 400
    await enqueue_events(sessions, tickets=1, events_per_ticket=1)
    async with running_worker(sessions, delivery_settings):

        async def dead() -> bool:
            return [r.status for r in await rows(sessions)] == [DeliveryStatus.dead]

        await eventually(dead, "dead-lettering of a rejected delivery")
    [row] = await rows(sessions)
    assert (row.attempts, row.last_status_code) == (1, 400)
    assert "400" in (row.last_error or "")


async def test_rows_of_a_vanished_worker_are_taken_over_when_its_lease_expires(
    sessions: async_sessionmaker[AsyncSession], delivery_settings: Settings, receiver: Receiver
) -> None:
    enqueued = await enqueue_events(sessions, tickets=3, events_per_ticket=1)
    now = utcnow()
    async with unit_of_work(sessions) as session:
        claimed = await service.claim_due(
            session,
            worker_id="killed-worker",
            now=now,
            lease_until=now + timedelta(seconds=1),
            limit=10,
        )
    assert len(claimed) == 3
    async with running_worker(sessions, delivery_settings):
        await eventually(lambda: all_delivered(sessions), "delivery after the lease expired")
    assert sorted(receiver.accepted_ids()) == sorted(i for ids in enqueued.values() for i in ids)


async def test_two_workers_share_the_outbox_without_double_delivery(
    sessions: async_sessionmaker[AsyncSession], delivery_settings: Settings, receiver: Receiver
) -> None:
    enqueued = await enqueue_events(sessions, tickets=20, events_per_ticket=5)
    async with (
        running_worker(sessions, delivery_settings) as first,
        running_worker(sessions, delivery_settings) as second,
    ):
        await eventually(lambda: all_delivered(sessions), "every delivery")
    ids = receiver.accepted_ids()
    assert len(ids) == len(set(ids)) == 100, "an event was delivered twice"
    assert first_arrival_order(receiver.accepted()) == enqueued
    assert first.worker_id != second.worker_id
