"""The agent workspace's live view across workers: a conversation line committed through one
`aftersales serve` process wakes the view's stream open on another, through the Redis event bus
(the database re-check is set far beyond the test's time, so only the bus can deliver it)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import httpx
import pytest

from tests.intake_api.sse import SseReader
from tests.intake_api.test_workers_redis import (
    ADMIN_KEY,
    HEADERS,
    _migrated_database,
    redis_url,
    serving,
)

__all__ = ["redis_url"]  # the Redis server fixture, shared with the workers tests

NO_RECHECK_SECONDS = "3600"


@pytest.fixture(scope="module")
def workers(
    postgres_admin_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """Worker A and worker B on one PostgreSQL database and Redis."""
    root = tmp_path_factory.mktemp("live-view")
    env = {
        **os.environ,
        "AFTERSALES_DATABASE_URL": _migrated_database(postgres_admin_url),
        "AFTERSALES_REDIS_URL": redis_url,
        "AFTERSALES_ADMIN_KEY": ADMIN_KEY,
        "AFTERSALES_DATA_DIR": str(root / "data"),
        "AFTERSALES_LOAD_DEMO_KB": "false",
        "AFTERSALES_LOG_LEVEL": "WARNING",
        "AFTERSALES_AGENT_STREAM_RECHECK_SECONDS": NO_RECHECK_SECONDS,
    }
    with serving(env, [root / "a.log", root / "b.log"], hosts=True) as (first, second):
        yield first, second


async def test_a_line_committed_on_another_worker_wakes_the_open_view(
    workers: tuple[str, str],
) -> None:
    worker_a, worker_b = workers
    message = {"channel": "test", "sender_id": "live-1", "message_id": "live-1-m1"}
    async with (
        asyncio.timeout(60),
        httpx.AsyncClient(base_url=worker_a, headers=HEADERS, timeout=60) as on_a,
        httpx.AsyncClient(base_url=worker_b, headers=HEADERS, timeout=60) as on_b,
        on_a.stream("GET", "/v1/agent/stream") as stream,
    ):
        reader = SseReader(stream)
        lines_before = (await reader.next_event())[1][0]
        answered = await on_b.post("/v1/messages", json={**message, "text": "ice maker E07"})
        assert answered.status_code == 200, answered.text
        lines_now = (await reader.next_event())[1][0]
        assert lines_now >= lines_before + 2  # the customer's line and the bot's reply
