"""The message flow without HTTP: a bot that fails mid-message loses nothing and answers once."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.dialogue.engine import DialogueEngine
from bot.dialogue.knowledge import ServiceKnowledge
from bot.dialogue.models import ConversationMessage
from bot.dialogue.ports import NoInterpreter
from bot.dialogue.prompts import DialogueTexts
from bot.triage import load_policy
from core.messages import InboundMessage
from intake_api.messages.desk import BotTicketDesk
from intake_api.messages.flows import MessageDesk
from intake_api.messages.models import STATUS_FAILED, StoredMessage
from intake_api.tickets.models import Ticket
from tests.bot.dialogue.conftest import knowledge  # noqa: F401  (the indexed test KB)


def broken_desk(
    knowledge: ServiceKnowledge,  # noqa: F811
    sessions: async_sessionmaker[AsyncSession],
) -> MessageDesk:
    """A bot whose dialogue.yml lost the hand-over prompt: it fails after creating a ticket."""
    texts = DialogueTexts.load()
    del texts.prompts["handoff"]
    dialogue = DialogueEngine(
        knowledge=knowledge,
        interpreter=NoInterpreter(),
        tickets=BotTicketDesk(load_policy(None)),
        texts=texts,
    )
    return MessageDesk(sessions=sessions, dialogue=dialogue)


async def test_a_failing_bot_keeps_the_message_and_answers_with_an_apology(
    knowledge: ServiceKnowledge,  # noqa: F811
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    desk = broken_desk(knowledge, sessions)
    data = InboundMessage(channel="test", sender_id="u1", message_id="f1", text="转人工")
    response = await desk.receive(data)
    assert response.action == "fallback"
    assert "消息已保存" in response.texts[0]
    async with sessions() as session:
        stored = await session.scalar(select(StoredMessage))
        tickets = await session.scalar(select(func.count(Ticket.id)))
        lines = await session.scalar(select(func.count(ConversationMessage.id)))
    assert stored is not None and stored.status == STATUS_FAILED
    assert "handoff" in (stored.error or "") and stored.response == response.model_dump(mode="json")
    assert tickets == 0 and lines == 0  # the bot's half-done work was rolled back
    again = await desk.receive(data)
    assert again == response.model_copy(update={"duplicate": True})
