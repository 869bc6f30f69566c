"""`ConversationLog` over the bot's conversation tables: a customer's history on a channel (with
the buttons the conversation still waits on), and notices stored in it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.dialogue import conversations
from bot.dialogue.buttons import ProductNames, buttons_after
from bot.dialogue.language import Voice
from bot.dialogue.models import Conversation, ConversationMessage
from bot.dialogue.state import DialogueState
from core.channels import AGENT_ACTION, ChatLog, LoggedLine
from core.database import unit_of_work
from core.messages import Button

HISTORY_LIMIT = 200
NOTICE_ACTION = "notice"


def _line(message: ConversationMessage) -> LoggedLine:
    return LoggedLine(
        id=message.id,
        direction="in" if message.direction == "in" else "out",
        text=message.text,
        action=message.action,
        message_id=message.message_id,
        at=message.created_at,
        author=message.author,
    )


async def _latest(session: AsyncSession, channel: str, sender_id: str) -> Conversation | None:
    """The sender's newest conversation, live or closed."""
    query = (
        select(Conversation)
        .where(Conversation.channel == channel, Conversation.sender_id == sender_id)
        .order_by(Conversation.created_at.desc(), Conversation.id.desc())
        .limit(1)
    )
    return await session.scalar(query)


class StoredConversations:
    """Reads and appends to the conversation tables, each call in a transaction of its own."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], product_names: ProductNames
    ) -> None:
        self.sessions = sessions
        self.product_names = product_names

    async def history(self, channel: str, sender_id: str) -> ChatLog:
        """The last `HISTORY_LIMIT` lines of all the sender's conversations, oldest first."""
        async with self.sessions() as session:
            conversation = await _latest(session, channel, sender_id)
            if conversation is None:
                return ChatLog(lines=[], buttons=[])
            query = (
                select(ConversationMessage)
                .join(Conversation, Conversation.id == ConversationMessage.conversation_id)
                .where(Conversation.channel == channel, Conversation.sender_id == sender_id)
                .order_by(ConversationMessage.id.desc())
                .limit(HISTORY_LIMIT)
            )
            lines = [_line(message) for message in reversed(list(await session.scalars(query)))]
        return ChatLog(lines=lines, buttons=self._waiting_buttons(conversation, lines))

    def _waiting_buttons(self, conversation: Conversation, lines: list[LoggedLine]) -> list[Button]:
        """The buttons under the last reply, when the conversation still waits on them."""
        if conversation.live_key is None or not lines:
            return []
        last = lines[-1]
        if last.direction != "out" or last.action in (NOTICE_ACTION, AGENT_ACTION):
            return []
        state = DialogueState.from_json(conversation.state)
        voice = state.last_voice() or Voice(conversation.lang)
        return buttons_after(state, voice, self.product_names)

    async def store_notice(
        self, channel: str, sender_id: str, text: str, *, author: str | None = None
    ) -> LoggedLine | None:
        """Append `text` to the sender's newest conversation as a notice, or as `author`'s (an
        agent's) message; None without one."""
        async with unit_of_work(self.sessions) as session:
            conversation = await _latest(session, channel, sender_id)
            if conversation is None:
                return None
            conversations.log(
                session,
                conversation,
                direction="out",
                text=text,
                action=AGENT_ACTION if author else NOTICE_ACTION,
                author=author,
            )
            await conversations.write_pending(session)
            query = (
                select(ConversationMessage)
                .where(ConversationMessage.conversation_id == conversation.id)
                .order_by(ConversationMessage.id.desc())
                .limit(1)
            )
            message = await session.scalar(query)
            return _line(message) if message is not None else None
