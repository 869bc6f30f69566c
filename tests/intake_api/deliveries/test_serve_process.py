"""Real `aftersales serve` processes: kill -9 mid-delivery loses nothing; two never collide."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from intake_api.deliveries import service
from intake_api.deliveries.models import DeliveryStatus
from tests.intake_api.deliveries.conftest import SECRET, enqueue_events, eventually
from tests.intake_api.deliveries.receiver import Receiver, first_arrival_order
from tests.support.postgres import free_port

AFTERSALES = Path(sys.executable).with_name("aftersales")
START_DEADLINE_SECONDS = 180  # start-up includes other domains (NLU training) under load


def service_env(database_url: str, data_dir: Path, receiver: Receiver) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AFTERSALES_")}
    env.update(
        AFTERSALES_DATABASE_URL=database_url,
        AFTERSALES_DATA_DIR=str(data_dir),
        AFTERSALES_WEBHOOK_URL=receiver.url,
        AFTERSALES_WEBHOOK_SECRET=SECRET,
        AFTERSALES_LOAD_DEMO_KB="false",
        AFTERSALES_DELIVERY_POLL_SECONDS="0.1",
        AFTERSALES_DELIVERY_BACKOFF_BASE_SECONDS="0.05",
        AFTERSALES_DELIVERY_BACKOFF_CAP_SECONDS="0.5",
        AFTERSALES_DELIVERY_TIMEOUT_SECONDS="3",
        AFTERSALES_DELIVERY_LEASE_SECONDS="4",
        AFTERSALES_LOG_LEVEL="WARNING",
    )
    return env


@contextmanager
def serve_process(env: dict[str, str], cwd: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`aftersales serve` running for the block; its delivery worker starts with the app's
    start-up, so tests watch the backend and the outbox rather than wait for `/healthz`."""
    process = subprocess.Popen(
        [str(AFTERSALES), "serve", "--port", str(free_port())],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:  # killed, not stopped: losing nothing on kill -9 is what these tests are about
        if process.poll() is None:
            process.kill()
            process.wait()


async def everything_delivered(sessions: async_sessionmaker[AsyncSession], total: int) -> bool:
    async with sessions() as session:
        rows = await service.list_events(session, limit=10_000)
    return len(rows) == total and all(r.status == DeliveryStatus.delivered for r in rows)


async def test_kill_9_mid_delivery_loses_nothing_and_two_processes_never_collide(
    sessions: async_sessionmaker[AsyncSession],
    database_url: str,
    receiver: Receiver,
    tmp_path: Path,
) -> None:
    env = service_env(database_url, tmp_path / "data", receiver)
    enqueued = await enqueue_events(sessions, tickets=4, events_per_ticket=2)
    receiver.answer = "hold"  # requests arrive but are never answered: deliveries in flight
    with serve_process(env, tmp_path) as first:
        await eventually(
            lambda: len({r.json["event_id"] for r in receiver.requests}) == 4,
            "the first event of each ticket in flight",
            within=START_DEADLINE_SECONDS,
        )
        first.send_signal(signal.SIGKILL)
        first.wait()
    receiver.answer = 200
    receiver.release_held()
    held = len(receiver.requests)

    # Two processes take over the killed one's leased rows and everything enqueued meanwhile.
    with serve_process(env, tmp_path), serve_process(env, tmp_path):
        more = await enqueue_events(sessions, tickets=12, events_per_ticket=4)
        for ticket_id, ids in more.items():
            enqueued.setdefault(ticket_id, []).extend(ids)
        await eventually(
            lambda: everything_delivered(sessions, 8 + 48),
            "every delivery after the restart",
            within=START_DEADLINE_SECONDS,
        )

    assert all(r.signed_with(SECRET) for r in receiver.requests)
    accepted = receiver.accepted_ids()
    assert len(accepted) == len(set(accepted)), "an event was delivered twice"
    assert sorted(accepted) == sorted(i for ids in enqueued.values() for i in ids)
    assert first_arrival_order(receiver.accepted()) == enqueued
    assert held >= 4 and all(r.status == 0 for r in receiver.requests[:held])
