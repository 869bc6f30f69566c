"""`POST /v1/messages` over real HTTP: contract fields, idempotency (also concurrent), state that
survives a restart, malformed bodies."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.dialogue.models import ConversationMessage
from core.database import unit_of_work
from core.settings import Settings
from intake_api.app import create_app
from intake_api.messages.models import StoredMessage
from intake_api.tickets.models import Ticket
from knowledge_base.loader import read_knowledge_base
from knowledge_base.store import import_knowledge_base
from tests.support.server import running_server

KB_FILE = Path(__file__).resolve().parents[2] / "bot" / "dialogue" / "kb.yaml"
KEY = "test-admin-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture
async def api_settings(settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> Settings:
    """A migrated database holding the test KB, and an admin key."""
    async with unit_of_work(sessions) as session:
        await import_knowledge_base(session, read_knowledge_base(KB_FILE))
    return settings.model_copy(
        update={"admin_key": KEY, "rate_limit_per_sender_per_minute": 10_000}
    )


def message(text: str, message_id: str, sender: str = "u1", **extra: object) -> dict:
    return {"channel": "test", "sender_id": sender, "message_id": message_id, "text": text, **extra}


async def count(sessions: async_sessionmaker[AsyncSession], query) -> int:  # noqa: ANN001
    async with sessions() as session:
        return int(await session.scalar(query) or 0)


async def test_answer_has_every_contract_field(api_settings: Settings) -> None:
    with running_server(create_app(api_settings)) as base:
        async with httpx.AsyncClient(base_url=base, headers=AUTH, timeout=30) as client:
            response = await client.post("/v1/messages", json=message("保修多久？", "m1"))
    assert response.status_code == 200
    body = response.json()
    assert body["action"] == "answer"
    assert body["kb_hits"][0] == {**body["kb_hits"][0], "id": "FAQ-warranty", "type": "faq"}
    assert body["conversation_id"] and body["replies"][0]["text"].startswith("整机保修两年")
    assert set(body["intent"]) == {"name", "confidence"}
    assert body["ticket"] is None and isinstance(body["entities"], list)


async def test_same_message_id_returns_the_first_response_and_runs_once(
    api_settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    with running_server(create_app(api_settings)) as base:
        async with httpx.AsyncClient(base_url=base, headers=AUTH, timeout=30) as client:
            first = await client.post("/v1/messages", json=message("转人工", "dup-1"))
            again = await client.post("/v1/messages", json=message("转人工", "dup-1"))
    assert first.status_code == again.status_code == 200
    assert first.json()["action"] == "handoff" and again.json()["duplicate"] is True
    assert {**again.json(), "duplicate": False} == first.json()
    assert await count(sessions, select(func.count(Ticket.id))) == 1
    assert await count(sessions, select(func.count(StoredMessage.id))) == 1


async def test_concurrent_duplicates_are_answered_once(
    api_settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    body = message("I want to talk to a real person", "race-1")
    with running_server(create_app(api_settings)) as base:
        async with httpx.AsyncClient(base_url=base, headers=AUTH, timeout=60) as client:
            responses = await asyncio.gather(
                *(client.post("/v1/messages", json=body) for _ in range(6))
            )
    assert [r.status_code for r in responses] == [200] * 6
    tickets = {r.json()["ticket"]["id"] for r in responses}
    assert len(tickets) == 1
    assert sum(not r.json()["duplicate"] for r in responses) == 1
    incoming = select(func.count(ConversationMessage.id)).where(
        ConversationMessage.direction == "in"
    )
    assert await count(sessions, incoming) == 1
    assert await count(sessions, select(func.count(Ticket.id))) == 1


async def test_conversation_continues_after_a_restart(api_settings: Settings) -> None:
    with running_server(create_app(api_settings)) as base:
        async with httpx.AsyncClient(base_url=base, headers=AUTH, timeout=30) as client:
            asked = await client.post(
                "/v1/messages", json=message("The compressor overheats and stops", "r1")
            )
    assert asked.json()["action"] == "clarify"
    with running_server(create_app(api_settings)) as base:  # a new process on the same DB
        async with httpx.AsyncClient(base_url=base, headers=AUTH, timeout=30) as client:
            answered = await client.post("/v1/messages", json=message("AC-500", "r2"))
    body = answered.json()
    assert body["action"] == "answer" and body["kb_hits"][0]["id"] == "F-500-hot"
    assert body["conversation_id"] == asked.json()["conversation_id"]


async def test_traditional_in_traditional_out(api_settings: Settings) -> None:
    with running_server(create_app(api_settings)) as base:
        async with httpx.AsyncClient(base_url=base, headers=AUTH, timeout=30) as client:
            response = await client.post("/v1/messages", json=message("保修期多長時間？", "t1"))
    body = response.json()
    assert body["action"] == "answer"
    assert "兩年" in body["replies"][0]["text"] and "問題" in body["replies"][1]["text"]


MALFORMED = [
    {"channel": "test", "sender_id": "u1", "message_id": "x"},  # no text
    message("", "x"),  # empty text
    message("hi", "x", lang="fr"),
    {**message("hi", "x"), "sender_id": 12},
    message("hi", "x", customer={"tier": "gold"}),
    message("x" * 5000, "x"),
    ["not", "an", "object"],
]


async def test_malformed_bodies_are_rejected_with_4xx(api_settings: Settings) -> None:
    with running_server(create_app(api_settings)) as base:
        async with httpx.AsyncClient(base_url=base, headers=AUTH, timeout=30) as client:
            statuses = [
                (await client.post("/v1/messages", json=payload)).status_code
                for payload in MALFORMED
            ]
            broken = await client.post(
                "/v1/messages", content=b"{not json", headers={"Content-Type": "application/json"}
            )
    assert statuses == [422] * len(MALFORMED)
    assert broken.status_code == 422


async def test_a_key_is_required(api_settings: Settings) -> None:
    with running_server(create_app(api_settings)) as base:
        async with httpx.AsyncClient(base_url=base) as client:
            response = await client.post("/v1/messages", json=message("hi", "k1"))
    assert response.status_code == 401
