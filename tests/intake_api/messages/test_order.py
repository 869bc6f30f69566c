"""Messages of one conversation are answered in the order they were stored, even when a later
one is read first; each is answered once."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.dialogue.engine import DialogueEngine, Reading
from bot.dialogue.knowledge import ServiceKnowledge
from bot.dialogue.models import ConversationMessage
from bot.dialogue.ports import NoInterpreter
from bot.triage import load_policy
from core.messages import InboundMessage
from intake_api.messages.desk import BotTicketDesk
from intake_api.messages.flows import MessageDesk
from intake_api.messages.models import STATUS_ANSWERED, StoredMessage
from tests.bot.dialogue.conftest import knowledge  # noqa: F401  (the indexed test KB)

SLOW = "你好，我想问一下保修"


class SlowToRead(DialogueEngine):
    """Reads one text slowly (a long message on a busy worker), the others at once."""

    def read(self, inbound: InboundMessage) -> Reading:
        if inbound.text == SLOW:
            time.sleep(0.6)
        return super().read(inbound)


async def test_a_later_message_read_first_waits_for_the_earlier_one(
    knowledge: ServiceKnowledge,  # noqa: F811
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    dialogue = SlowToRead(
        knowledge=knowledge, interpreter=NoInterpreter(), tickets=BotTicketDesk(load_policy(None))
    )
    desk = MessageDesk(sessions=sessions, dialogue=dialogue)

    def message(n: int, text: str) -> InboundMessage:
        return InboundMessage(channel="test", sender_id="u1", message_id=f"m{n}", text=text)

    first = asyncio.create_task(desk.receive(message(1, SLOW)))
    await asyncio.sleep(0.2)  # stored, and still being read
    second = asyncio.create_task(desk.receive(message(2, "谢谢")))
    answers = await asyncio.gather(first, second, desk.receive(message(1, SLOW)))
    assert answers[2].duplicate and answers[2].replies == answers[0].replies
    async with sessions() as session:
        stored = (await session.scalars(select(StoredMessage).order_by(StoredMessage.id))).all()
        lines = (
            await session.scalars(
                select(ConversationMessage)
                .where(ConversationMessage.direction == "in")
                .order_by(ConversationMessage.id)
            )
        ).all()
    assert [m.message_id for m in stored] == ["m1", "m2"]
    assert all(m.status == STATUS_ANSWERED for m in stored)
    assert [line.message_id for line in lines] == ["m1", "m2"]  # in order, each once
