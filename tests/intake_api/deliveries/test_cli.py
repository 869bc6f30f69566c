"""`aftersales deliveries list|replay|stats` on a real database."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from typer.testing import CliRunner, Result

from core.database import create_engine, session_factory, unit_of_work
from core.settings import get_settings
from intake_api.cli import app
from intake_api.deliveries.models import DeliveryStatus, OutboxEvent, utcnow
from intake_api.storage.migrate import migrate
from tests.intake_api.deliveries.conftest import enqueue_events


@pytest.fixture
def cli_env(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The CLI's settings point at a fresh database and a data dir under tmp_path."""
    monkeypatch.setenv("AFTERSALES_DATABASE_URL", database_url)
    monkeypatch.setenv("AFTERSALES_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)  # no developer .env
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def deliveries(*args: str) -> Result:
    return CliRunner().invoke(app, ["deliveries", *args])


def outbox_with_dead_letters(database_url: str) -> dict[str, list[str]]:
    """Two tickets of two events each, whose first events are dead-lettered."""

    async def build() -> dict[str, list[str]]:
        engine = create_engine(database_url)
        try:
            await migrate(engine)
            sessions = session_factory(engine)
            enqueued = await enqueue_events(sessions, tickets=2, events_per_ticket=2)
            firsts = [ids[0] for ids in enqueued.values()]
            async with unit_of_work(sessions) as session:
                await session.execute(
                    update(OutboxEvent)
                    .where(OutboxEvent.event_id.in_(firsts))
                    .values(status=DeliveryStatus.dead, attempts=12, last_error="answered 503")
                )
            return enqueued
        finally:
            await engine.dispose()

    return asyncio.run(build())


def json_of(result: Result) -> object:
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.mark.usefixtures("cli_env")
def test_list_stats_and_replay_of_dead_letters(database_url: str) -> None:
    enqueued = outbox_with_dead_letters(database_url)
    dead_ids = [enqueued["T-0"][0], enqueued["T-1"][0]]

    assert json_of(deliveries("stats", "--json")) | {"oldest_pending_age_seconds": None} == {
        "pending": 2,
        "delivered": 0,
        "dead": 2,
        "held": 2,
        "oldest_pending_age_seconds": None,
    }
    dead = json_of(deliveries("list", "--status", "dead", "--json"))
    assert [d["event_id"] for d in dead] == dead_ids
    assert dead[0]["last_error"] == "answered 503" and dead[0]["ticket_id"] == "T-0"
    listed = [line.split()[0] for line in deliveries("list").output.splitlines()]
    (t0_first, t0_second), (t1_first, t1_second) = enqueued["T-0"], enqueued["T-1"]
    assert listed == [t0_first, t1_first, t0_second, t1_second]

    replayed = deliveries("replay", "--event-id", dead_ids[1])
    assert replayed.exit_code == 0 and dead_ids[1] in replayed.output
    again = deliveries("replay", "--event-id", dead_ids[1])
    assert again.exit_code == 1 and "already pending" in again.output
    everything = deliveries("replay", "--dead")
    assert everything.exit_code == 0 and "requeued 1 " in everything.output

    after = json_of(deliveries("stats", "--json"))
    assert (after["pending"], after["dead"], after["held"]) == (4, 0, 0)
    pending = json_of(deliveries("list", "--status", "pending", "--json"))
    assert all(p["attempts"] == 0 for p in pending)


@pytest.mark.usefixtures("cli_env")
def test_bad_invocations_fail_with_a_clear_message() -> None:
    neither = deliveries("replay")
    assert neither.exit_code == 1 and "--dead or --event-id" in neither.output
    unknown = deliveries("replay", "--event-id", "0" * 32)
    assert unknown.exit_code == 1 and "no delivery with event id" in unknown.output
    bad_status = deliveries("list", "--status", "lost")
    assert bad_status.exit_code == 2 and "lost" in bad_status.output


def outbox_with_deliveries_of_age(database_url: str, ages_in_days: list[float]) -> None:
    """One delivered event per age, plus one pending event."""

    async def build() -> None:
        engine = create_engine(database_url)
        try:
            await migrate(engine)
            sessions = session_factory(engine)
            tickets = len(ages_in_days) + 1
            enqueued = await enqueue_events(sessions, tickets=tickets, events_per_ticket=1)
            async with unit_of_work(sessions) as session:
                for age, ids in zip(ages_in_days, enqueued.values(), strict=False):
                    await session.execute(
                        update(OutboxEvent)
                        .where(OutboxEvent.event_id == ids[0])
                        .values(
                            status=DeliveryStatus.delivered,
                            delivered_at=utcnow() - timedelta(days=age),
                        )
                    )
        finally:
            await engine.dispose()

    asyncio.run(build())


@pytest.mark.usefixtures("cli_env")
def test_purge_deletes_only_old_delivered_rows(database_url: str) -> None:
    outbox_with_deliveries_of_age(database_url, [10, 8, 1])
    purged = deliveries("purge", "--older-than-days", "7")
    assert purged.exit_code == 0 and "deleted 2 " in purged.output
    after = json_of(deliveries("stats", "--json"))
    assert (after["delivered"], after["pending"]) == (1, 1)
