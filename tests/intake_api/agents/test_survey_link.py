"""The CSAT survey reaches the customer as a full link (the public URL, else the service's own
base URL, never a bare path) and after the "resolved" notice, not before it."""

from __future__ import annotations

import httpx
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
from tests.support.server import running_server


async def test_the_survey_is_a_full_link_after_the_resolved_notice(
    service: Service, alice: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    _, ticket_id = await seed_handoff(sessions, sender_id="lee-order")
    resolved = await alice.post(
        f"/v1/agent/tickets/{ticket_id}/resolve", json={"note": "Replaced the seal."}
    )
    assert resolved.status_code == 200, resolved.text
    token = resolved.json()["status_token"]
    (survey,) = await service.channel.wait_for("lee-order", "/csat/")
    assert f"{service.base}/csat/{ticket_id}?token={token}" in survey  # no public URL set
    said = service.channel.messages_to("lee-order")
    notice = next(i for i, text in enumerate(said) if "is now: resolved" in text)
    assert notice < said.index(survey), said


async def test_the_survey_link_uses_the_public_url(
    intake_settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    settings = intake_settings.model_copy(
        update={"escalation_interval_seconds": 3600, "public_url": "https://help.example.com/"}
    )
    app = create_app(settings)
    with running_server(app) as base:
        channel = StandInChannel()
        services(app).outbound.register(channel)
        _, ticket_id = await seed_handoff(sessions, sender_id="lee-public")
        async with client(base, await api_key(base, "carol", ["agents"])) as carol:
            resolved = await carol.post(
                f"/v1/agent/tickets/{ticket_id}/resolve", json={"note": "Fixed."}
            )
        assert resolved.status_code == 200, resolved.text
        (survey,) = await channel.wait_for("lee-public", "/csat/")
    assert f"https://help.example.com/csat/{ticket_id}?token=" in survey
