"""Fixtures of the agents tests: the whole app on a real server with a local stand-in outbound
channel registered in its outbound registry, agents with API keys, and seeding helpers."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.dialogue.models import CONVERSATION_HANDOFF, Conversation
from bot.triage import load_policy
from core.database import unit_of_work
from core.messages import Button
from core.settings import Settings
from intake_api.app import create_app
from intake_api.services import services
from intake_api.tickets import service as tickets
from intake_api.tickets.models import TicketCreate
from tests.intake_api.conftest import ADMIN_KEY
from tests.support.server import running_server

STANDIN = "standin"


@dataclass
class StandInChannel:
    """A platform that takes every message and keeps it (what a customer's phone would show)."""

    name: str = STANDIN
    sent: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def send_text(
        self, recipient_id: str, text: str, buttons: Sequence[Button] | None = None
    ) -> None:
        with self.lock:
            self.sent.append((recipient_id, text))

    def messages_to(self, recipient_id: str) -> list[str]:
        with self.lock:
            return [text for to, text in self.sent if to == recipient_id]

    async def wait_for(self, recipient_id: str, containing: str, count: int = 1) -> list[str]:
        """The first `count` messages to `recipient_id` containing `containing`, waiting for
        them (surveys and status notices are sent in the background)."""
        for _ in range(400):
            found = [text for text in self.messages_to(recipient_id) if containing in text]
            if len(found) >= count:
                return found
            await asyncio.sleep(0.05)
        raise AssertionError(f"no message with {containing!r} to {recipient_id}: {self.sent}")


@dataclass
class Service:
    base: str
    app: FastAPI
    channel: StandInChannel


@pytest.fixture
def service(
    intake_settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> Iterator[Service]:
    """The app on a migrated database; the escalation job runs once at start, then waits."""
    settings = intake_settings.model_copy(update={"escalation_interval_seconds": 3600})
    app = create_app(settings)
    with running_server(app) as base:
        channel = StandInChannel()
        services(app).outbound.register(channel)
        yield Service(base, app, channel)


def client(base: str, key: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30)


async def api_key(base: str, name: str, scopes: list[str]) -> str:
    """A new API key made by the admin."""
    async with client(base, ADMIN_KEY) as admin:
        response = await admin.post("/v1/apikeys", json={"name": name, "scopes": scopes})
    assert response.status_code == 201, response.text
    return response.json()["key"]


@pytest.fixture
async def alice(service: Service) -> AsyncIterator[httpx.AsyncClient]:
    async with client(service.base, await api_key(service.base, "alice", ["agents"])) as http:
        yield http


@pytest.fixture
async def bob(service: Service) -> AsyncIterator[httpx.AsyncClient]:
    async with client(service.base, await api_key(service.base, "bob", ["agents"])) as http:
        yield http


async def seed_ticket(sessions: async_sessionmaker[AsyncSession], **fields: Any) -> str:
    """A ticket made by the tickets service (triaged like any other); its id."""
    data = TicketCreate.model_validate({"subject": "Pump leaks", **fields})
    async with unit_of_work(sessions) as session:
        ticket, _ = await tickets.create(session, data=data, actor="test", policy=load_policy(None))
    return ticket.public_id


async def seed_handoff(
    sessions: async_sessionmaker[AsyncSession],
    *,
    channel: str = STANDIN,
    sender_id: str | None = None,
    with_ticket: bool = True,
    **ticket_fields: Any,
) -> tuple[str, str | None]:
    """A conversation the bot handed to a person (with the ticket the bot opens, unless told
    otherwise): the conversation id and the ticket id."""
    sender_id = sender_id or f"customer-{uuid.uuid4().hex[:6]}"
    conversation_id = uuid.uuid4().hex
    async with unit_of_work(sessions) as session:
        session.add(
            Conversation(
                id=conversation_id,
                channel=channel,
                sender_id=sender_id,
                live_key=f"{channel}\x1f{sender_id}",
                status=CONVERSATION_HANDOFF,
                lang="en",
                state={"stage": "handoff"},
                slots={},
                customer={"name": "Ms Lee"},
            )
        )
    ticket_id = None
    if with_ticket:
        ticket_id = await seed_ticket(
            sessions,
            conversation_id=conversation_id,
            channel=channel,
            sender_id=sender_id,
            lang="en",
            **ticket_fields,
        )
    return conversation_id, ticket_id
