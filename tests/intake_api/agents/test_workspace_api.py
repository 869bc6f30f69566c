"""The workspace's data over HTTP (SQLite and PostgreSQL): the inbox ordered by breach risk
with filters, search and unread counts; an item with its labelled transcript, internal notes
kept apart, and the context panel (earlier tickets, repeat-fault flag, the asset registry's
serial and site)."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.dialogue.models import ConversationMessage
from core.columns import utcnow
from core.database import unit_of_work
from intake_api.assets.models import Asset, AssetContact
from intake_api.tickets.models import Ticket, parse_ticket_id
from tests.intake_api.agents.conftest import Service, seed_handoff, seed_ticket


async def _set(
    sessions: async_sessionmaker[AsyncSession], ticket_id: str, hours: float, **values: str
) -> None:
    """Make the ticket's response due `hours` from now (and set other columns)."""
    async with unit_of_work(sessions) as session:
        await session.execute(
            update(Ticket)
            .where(Ticket.id == parse_ticket_id(ticket_id))
            .values(sla_due_at=utcnow() + timedelta(hours=hours), **values)
        )


async def test_the_inbox_puts_the_nearest_breach_first_and_filters_and_searches(
    service: Service, alice: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    calm = await seed_ticket(sessions, priority="P1", customer={"phone": "13800001111"})
    late = await seed_ticket(sessions, priority="P4", channel="wechat", lang="en")
    soon = await seed_ticket(sessions, priority="P3")
    await _set(sessions, calm, 48)
    await _set(sessions, late, -2)  # breached two hours ago
    await _set(sessions, soon, 1, skill_group="pumps")

    inbox = (await alice.get("/v1/agent/inbox")).json()
    assert [item["id"] for item in inbox["items"]] == [late, soon, calm]
    assert inbox["items"][0]["seconds_left"] < 0 and inbox["items"][2]["seconds_left"] > 0

    async def ids(**params: str) -> list[str]:
        answer = await alice.get("/v1/agent/inbox", params=params)
        assert answer.status_code == 200, answer.text
        return [item["id"] for item in answer.json()["items"]]

    assert await ids(priority="P3") == [soon]
    assert await ids(channel="wechat") == [late]
    assert await ids(skill_group="pumps") == [soon]
    assert await ids(lang="en") == [late]
    assert await ids(q=calm) == [calm]
    assert await ids(q="0000 1111") == [calm]  # a phone, however it is spaced
    assert await ids(view="mine") == []
    await alice.post(f"/v1/agent/queue/{soon}/claim")
    assert await ids(view="mine") == [soon]
    assert await ids(view="unassigned") == [late, calm]
    assert (await alice.get("/v1/agent/inbox", params={"view": "some"})).status_code == 422


async def test_an_item_shows_who_said_what_notes_apart_and_the_unit_from_the_registry(
    service: Service, alice: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    earlier = await seed_ticket(
        sessions, customer={"phone": "13900002222"}, product_id="KX-5", fault_id="F-E07"
    )
    conversation_id, ticket_id = await seed_handoff(
        sessions,
        sender_id="lee",
        customer={"phone": "13900002222", "name": "Ms Lee"},
        product_id="KX-5",
        fault_id="F-E07",
    )
    async with unit_of_work(sessions) as session:
        session.add(Asset(serial="SN-77", product_id="KX-5", site_address="3 Dock Road"))
        await session.flush()
        session.add(AssetContact(serial="SN-77", channel="standin", sender_id="lee"))
        session.add_all(
            [
                ConversationMessage(conversation_id=conversation_id, direction="in", text="E07"),
                ConversationMessage(
                    conversation_id=conversation_id,
                    direction="out",
                    text="Try this",
                    action="answer",
                ),
            ]
        )
    first = (await alice.get("/v1/agent/inbox")).json()["items"]
    assert {item["id"]: item["unread"] for item in first}[ticket_id] == 1

    await alice.post(f"/v1/agent/queue/{ticket_id}/claim")
    await alice.post(f"/v1/agent/conversations/{conversation_id}/reply", json={"text": "On it"})
    note = await alice.post(f"/v1/agent/items/{ticket_id}/notes", json={"text": "VIP, be quick"})
    assert note.status_code == 201, note.text
    item = (await alice.get(f"/v1/agent/items/{ticket_id}")).json()

    lines = [(line["speaker"], line["text"]) for line in item["transcript"]["lines"]]
    assert lines == [("customer", "E07"), ("bot", "Try this"), ("agent", "On it")]
    assert item["transcript"]["lines"][2]["author"] == "alice"
    assert [n["text"] for n in item["transcript"]["notes"]] == ["VIP, be quick"]
    history = (await alice.get(f"/v1/agent/conversations/{conversation_id}")).json()
    assert all("VIP" not in line["text"] for line in history["messages"])
    assert all("VIP" not in text for _, text in service.channel.sent)
    context = item["context"]
    assert context["customer_phone"] == "13900002222"
    assert context["equipment"]["serial"] == "SN-77"
    assert context["equipment"]["site"] == "3 Dock Road"
    assert [t["id"] for t in context["earlier_tickets"]] == [earlier]
    assert context["repeat_fault"] is True and context["repeat_of"] == [earlier]
    unread = {i["id"]: i["unread"] for i in (await alice.get("/v1/agent/inbox")).json()["items"]}
    assert unread[ticket_id] == 0  # read when opened
    missing = await alice.get("/v1/agent/items/T-999999")
    assert missing.status_code == 404
