"""The agent routes over real HTTP (SQLite and PostgreSQL): queue order and flags, claims and
their conflicts, replies reaching the customer's channel, hand-back, resolution."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.dialogue.models import Conversation, ConversationMessage
from core.columns import utcnow
from core.database import unit_of_work
from intake_api.agents.models import FirstResponse
from intake_api.tickets.models import Ticket, parse_ticket_id
from tests.intake_api.agents.conftest import Service, api_key, client, seed_handoff, seed_ticket
from tests.intake_api.conftest import ADMIN_KEY


async def _set_due(
    sessions: async_sessionmaker[AsyncSession], ticket_id: str, *, hours_from_now: float
) -> None:
    async with unit_of_work(sessions) as session:
        await session.execute(
            update(Ticket)
            .where(Ticket.id == parse_ticket_id(ticket_id))
            .values(sla_due_at=utcnow() + timedelta(hours=hours_from_now))
        )


async def test_queue_is_ordered_by_priority_then_due_time_with_flags(
    service: Service, alice: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    p3 = await seed_ticket(sessions, priority="P3")
    p2_standard = await seed_ticket(sessions, priority="P2")  # response due in 8 h
    p2_strategic = await seed_ticket(  # response due in 2 h
        sessions, priority="P2", customer={"name": "Big Plant", "tier": "strategic"}
    )
    p1 = await seed_ticket(sessions, priority="P1")
    conversation_id, _ = await seed_handoff(sessions, with_ticket=False)
    late_p3 = await seed_ticket(sessions, priority="P3")
    await _set_due(sessions, late_p3, hours_from_now=-1)
    done = await seed_ticket(sessions, priority="P1", category="consulting")
    assert (await alice.post(f"/v1/agent/queue/{done}/claim")).status_code == 200
    async with client(service.base, await api_key(service.base, "ops", ["tickets:write"])) as ops:
        for status in ("in_progress", "resolved"):
            assert (
                await ops.patch(f"/v1/tickets/{done}", json={"status": status})
            ).status_code == 200

    queue = (await alice.get("/v1/agent/queue")).json()

    ids = [item["id"] for item in queue["items"]]
    assert ids == [p1, p2_strategic, p2_standard, late_p3, conversation_id, p3]
    assert queue["total"] == 6
    late = queue["items"][3]
    assert late["response_breached"] is True and late["resolution_breached"] is False
    assert not any(item["response_breached"] for i, item in enumerate(queue["items"]) if i != 3)
    lonely = queue["items"][4]
    assert lonely["kind"] == "conversation" and lonely["handoff"] is True
    assert lonely["subject"] == "Ms Lee" and lonely["ticket"] is None
    assert queue["items"][0]["ticket"]["id"] == p1


async def test_a_handed_off_conversation_with_a_ticket_is_one_item(
    alice: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    conversation_id, ticket_id = await seed_handoff(sessions)
    items = (await alice.get("/v1/agent/queue")).json()["items"]
    assert [(i["id"], i["kind"], i["handoff"], i["conversation_id"]) for i in items] == [
        (ticket_id, "ticket", True, conversation_id)
    ]


async def test_claim_assigns_to_the_agent_and_another_agent_gets_409(
    service: Service,
    alice: httpx.AsyncClient,
    bob: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    ticket_id = await seed_ticket(sessions)
    claimed = await alice.post(f"/v1/agent/queue/{ticket_id}/claim")
    assert claimed.status_code == 200
    assert claimed.json()["claimed_by"].endswith(":alice")
    assert claimed.json()["ticket"]["status"] == "assigned"
    assert claimed.json()["ticket"]["assignee"] == claimed.json()["claimed_by"]

    again = await alice.post(f"/v1/agent/queue/{ticket_id}/claim")
    assert again.status_code == 200 and again.json()["claimed_at"] == claimed.json()["claimed_at"]
    conflict = await bob.post(f"/v1/agent/queue/{ticket_id}/claim")
    assert conflict.status_code == 409
    assert conflict.json()["detail"]["claimed_by"] == claimed.json()["claimed_by"]
    item = (await alice.get("/v1/agent/queue")).json()["items"][0]
    assert item["claimed_by"] == claimed.json()["claimed_by"]


async def test_concurrent_claims_have_exactly_one_winner(
    service: Service, alice: httpx.AsyncClient, bob: httpx.AsyncClient, sessions: async_sessionmaker
) -> None:
    conversation_id, _ = await seed_handoff(sessions, with_ticket=False)
    ticket_id = await seed_ticket(sessions)
    for item in (conversation_id, ticket_id):
        answers = await asyncio.gather(
            alice.post(f"/v1/agent/queue/{item}/claim"), bob.post(f"/v1/agent/queue/{item}/claim")
        )
        assert sorted(answer.status_code for answer in answers) == [200, 409], [
            answer.text for answer in answers
        ]


async def test_claims_of_unknown_or_closed_items_are_clear_errors(alice: httpx.AsyncClient) -> None:
    assert (await alice.post("/v1/agent/queue/T-999999/claim")).status_code == 404
    missing = await alice.post("/v1/agent/queue/no-such-conversation/claim")
    assert missing.status_code == 404 and "no-such-conversation" in missing.json()["message"]


async def test_reply_reaches_the_customer_is_kept_and_is_the_first_response(
    service: Service,
    alice: httpx.AsyncClient,
    bob: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    conversation_id, ticket_id = await seed_handoff(sessions, sender_id="lee-1")
    assert (await alice.post(f"/v1/agent/queue/{ticket_id}/claim")).status_code == 200

    first = await alice.post(
        f"/v1/agent/conversations/{conversation_id}/reply",
        json={"text": "Hello Ms Lee, I am checking your pump now."},
    )
    second = await alice.post(
        f"/v1/agent/conversations/{conversation_id}/reply", json={"text": "Found it."}
    )

    assert first.status_code == second.status_code == 200
    assert first.json() == {
        "conversation_id": conversation_id,
        "delivered": True,
        "channel": "standin",
        "error": None,
        "first_response_for": [ticket_id],
    }
    assert second.json()["first_response_for"] == []
    # a text-only channel: the agent's name (their key's) before their words, in English here
    replies = {"alice: Hello Ms Lee, I am checking your pump now.", "alice: Found it."}
    # (the claim's status change reaches the customer too, from the channels' notifier)
    assert [text for text in service.channel.messages_to("lee-1") if text in replies] == [
        "alice: Hello Ms Lee, I am checking your pump now.",
        "alice: Found it.",
    ]
    history = (await alice.get(f"/v1/agent/conversations/{conversation_id}")).json()
    assert [(m["direction"], m["action"], m["author"], m["text"]) for m in history["messages"]] == [
        ("out", "agent", "alice", "Hello Ms Lee, I am checking your pump now."),
        ("out", "agent", "alice", "Found it."),
    ]
    async with sessions() as session:
        answered = await session.get(FirstResponse, parse_ticket_id(ticket_id))
    assert answered is not None and answered.agent.endswith(":alice")
    item = (await alice.get("/v1/agent/queue")).json()["items"][0]
    assert item["first_response_at"] is not None
    assert item["due_at"] == item["ticket"]["resolution_due_at"]

    taken = await bob.post(f"/v1/agent/conversations/{conversation_id}/reply", json={"text": "Hi"})
    assert taken.status_code == 409 and "Hi" not in service.channel.messages_to("lee-1")


async def test_reply_on_a_channel_without_outbound_is_kept_and_reported_undelivered(
    alice: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    conversation_id, _ = await seed_handoff(sessions, channel="crm-backend")
    reply = await alice.post(
        f"/v1/agent/conversations/{conversation_id}/reply", json={"text": "ok"}
    )
    assert reply.status_code == 200
    assert reply.json()["delivered"] is False and "crm-backend" in reply.json()["error"]
    assert reply.json()["first_response_for"]


async def test_bad_replies_are_4xx(alice: httpx.AsyncClient) -> None:
    assert (
        await alice.post("/v1/agent/conversations/nope/reply", json={"text": "x"})
    ).status_code == 404
    for body in ({}, {"text": ""}, {"text": "a\x00b"}, {"text": "x" * 4001}):
        assert (
            await alice.post("/v1/agent/conversations/nope/reply", json=body)
        ).status_code == 422


async def test_handback_gives_the_conversation_to_the_bot_and_tells_the_customer(
    service: Service, alice: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    conversation_id, _ = await seed_handoff(sessions, sender_id="lee-back", with_ticket=False)
    assert (await alice.post(f"/v1/agent/queue/{conversation_id}/claim")).status_code == 200

    back = await alice.post(f"/v1/agent/conversations/{conversation_id}/handback")

    assert back.status_code == 200 and back.json()["status"] == "open"
    [told] = service.channel.messages_to("lee-back")
    assert "the assistant is back" in told  # the conversation's language (en)
    [line] = back.json()["messages"]
    assert (line["action"], line["text"]) == ("notice", told)
    async with sessions() as session:
        conversation = await session.get(Conversation, conversation_id)
    assert conversation is not None and conversation.state["stage"] == "idle"
    assert (await alice.get("/v1/agent/queue")).json()["items"] == []
    again = await alice.post(f"/v1/agent/conversations/{conversation_id}/handback")
    assert again.status_code == 409 and "open" in again.json()["message"]


async def test_resolve_moves_the_ticket_and_sends_the_csat_survey(
    service: Service, alice: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    conversation_id, ticket_id = await seed_handoff(sessions, sender_id="lee-2")

    resolved = await alice.post(
        f"/v1/agent/tickets/{ticket_id}/resolve", json={"note": "Replaced the seal."}
    )

    assert resolved.status_code == 200, resolved.text
    ticket = resolved.json()
    assert ticket["status"] == "resolved" and ticket["assignee"].endswith(":alice")
    (survey,) = await service.channel.wait_for("lee-2", "/csat/")
    assert ticket_id in survey and f"/csat/{ticket_id}?token={ticket['status_token']}" in survey
    assert "1 (poor) to 5 (excellent)" in survey  # the ticket's language is English
    async with sessions() as session:
        conversation = await session.get(Conversation, conversation_id)
        events = (
            await session.scalars(
                select(ConversationMessage).where(
                    ConversationMessage.conversation_id == conversation_id
                )
            )
        ).all()
    assert conversation is not None and conversation.status == "open"
    assert events == []  # the survey went through the channel, not the bot's history
    assert (await alice.get("/v1/agent/queue")).json()["items"] == []
    twice = await alice.post(f"/v1/agent/tickets/{ticket_id}/resolve", json={"note": "again"})
    assert twice.status_code == 409 and "resolved" in twice.json()["message"]


async def test_agent_routes_need_the_agents_scope(service: Service) -> None:
    async with httpx.AsyncClient(base_url=service.base) as anonymous:
        assert (await anonymous.get("/v1/agent/queue")).status_code == 401
    async with client(
        service.base, await api_key(service.base, "reader", ["tickets:read"])
    ) as reader:
        denied = await reader.get("/v1/agent/queue")
    assert denied.status_code == 403 and denied.json()["detail"]["missing_scopes"] == ["agents"]


async def test_a_web_chat_reply_is_stored_once_by_the_web_chat_channel(
    alice: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    conversation_id, _ = await seed_handoff(sessions, channel="webchat", sender_id="page-1")

    reply = await alice.post(
        f"/v1/agent/conversations/{conversation_id}/reply", json={"text": "An engineer is on it."}
    )

    assert reply.status_code == 200 and reply.json()["delivered"] is True
    history = (await alice.get(f"/v1/agent/conversations/{conversation_id}")).json()["messages"]
    assert [(line["direction"], line["text"]) for line in history] == [
        ("out", "An engineer is on it.")
    ]


async def test_every_resolution_brings_one_survey_however_it_was_resolved(
    service: Service, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ticket_id = await seed_ticket(sessions, channel="standin", sender_id="lee-3", lang="zh")
    async with client(service.base, await api_key(service.base, "crm", ["tickets:write"])) as crm:
        for status in ("in_progress", "resolved", "in_progress", "resolved"):
            moved = await crm.patch(f"/v1/tickets/{ticket_id}", json={"status": status})
            assert moved.status_code == 200, moved.text

    (survey,) = await service.channel.wait_for("lee-3", "/csat/")
    assert "请为本次服务打分" in survey  # in the ticket's language
    await asyncio.sleep(0.5)  # a second survey would have been queued by now
    assert len([text for text in service.channel.messages_to("lee-3") if "/csat/" in text]) == 1


async def test_the_operators_key_replies_as_an_agent_in_the_customers_language(
    service: Service, sessions: async_sessionmaker[AsyncSession]
) -> None:
    conversation_id, _ = await seed_handoff(sessions, sender_id="lee-op", with_ticket=False)
    async with client(service.base, ADMIN_KEY) as operator:
        reply = await operator.post(
            f"/v1/agent/conversations/{conversation_id}/reply", json={"text": "On it."}
        )
        assert reply.status_code == 200 and reply.json()["delivered"] is True
        history = (await operator.get(f"/v1/agent/conversations/{conversation_id}")).json()
    assert service.channel.messages_to("lee-op") == ["Agent: On it."]
    assert history["messages"][0]["author"] == "Agent"
