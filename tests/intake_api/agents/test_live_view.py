"""The agent workspace's live view in one process (SQLite and PostgreSQL): a note and an agent's
reply wake `GET /v1/agent/stream` through the in-process event bus (the database re-check is
set far beyond the test's time, so only a notice can deliver them)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.settings import Settings
from intake_api.app import create_app
from intake_api.services import services
from tests.intake_api.agents.conftest import (
    Service,
    StandInChannel,
    api_key,
    client,
    seed_handoff,
)
from tests.intake_api.sse import SseReader
from tests.support.server import running_server


@pytest.fixture
def quiet_service(
    intake_settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> Iterator[Service]:
    """The app with the live view's database re-check an hour apart."""
    quiet = {"escalation_interval_seconds": 3600, "agent_stream_recheck_seconds": 3600}
    app = create_app(intake_settings.model_copy(update=quiet))
    with running_server(app) as base:
        channel = StandInChannel()
        services(app).outbound.register(channel)
        yield Service(base, app, channel)


async def test_a_note_and_a_reply_wake_the_open_view(
    quiet_service: Service, sessions: async_sessionmaker[AsyncSession]
) -> None:
    conversation_id, _ = await seed_handoff(sessions)
    key = await api_key(quiet_service.base, "alice", ["agents"])
    async with (
        asyncio.timeout(30),
        client(quiet_service.base, key) as alice,
        alice.stream("GET", "/v1/agent/stream") as stream,
    ):
        reader = SseReader(stream)
        lines, _, notes = (await reader.next_event())[1]
        noted = await alice.post(f"/v1/agent/items/{conversation_id}/notes", json={"text": "hi"})
        assert noted.status_code == 201, noted.text
        assert (await reader.next_event())[1][2] == notes + 1
        replied = await alice.post(
            f"/v1/agent/conversations/{conversation_id}/reply", json={"text": "On my way"}
        )
        assert replied.status_code == 200, replied.text
        while (now := (await reader.next_event())[1])[0] == lines:
            pass  # the reply's ticket event may come first
        assert now[0] == lines + 1
