"""Storage functions for conversations and their history (no commits: the caller's transaction)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.dialogue.models import (
    CONVERSATION_CLOSED,
    CONVERSATION_OPEN,
    Conversation,
    ConversationMessage,
    utcnow,
)


def live_key(channel: str, sender_id: str) -> str:
    return f"{channel}\x1f{sender_id}"


async def get(session: AsyncSession, *, conversation_id: str) -> Conversation | None:
    """A conversation by id."""
    return await session.get(Conversation, conversation_id)


# Built once (every message runs it): SQLAlchemy memoizes its cache key.
_LIVE = select(Conversation).where(Conversation.live_key == bindparam("live_key"))


async def get_live(session: AsyncSession, *, channel: str, sender_id: str) -> Conversation | None:
    """The sender's conversation that is not closed, if any."""
    params = {"live_key": live_key(channel, sender_id)}
    return (await session.execute(_LIVE, params)).scalar_one_or_none()


def close(conversation: Conversation) -> None:
    """Close a conversation: the sender's next message opens a new one."""
    conversation.status = CONVERSATION_CLOSED
    conversation.live_key = None
    conversation.updated_at = utcnow()


async def open_live(
    session: AsyncSession,
    *,
    channel: str,
    sender_id: str,
    lang: str,
    customer: dict[str, Any],
    idle_after: timedelta,
) -> Conversation:
    """The sender's live conversation, or a new one when there is none or it went quiet.

    Two first messages of one sender at once both try to insert; the unique `live_key` lets
    one win and the caller retries the other (it then finds the winner's row).
    """
    conversation = await get_live(session, channel=channel, sender_id=sender_id)
    if conversation is not None and utcnow() - conversation.updated_at > idle_after:
        close(conversation)
        await session.flush()  # frees the live key before the new conversation takes it
        conversation = None
    if conversation is None:
        conversation = Conversation(
            id=uuid.uuid4().hex,
            channel=channel,
            sender_id=sender_id,
            live_key=live_key(channel, sender_id),
            status=CONVERSATION_OPEN,
            lang=lang,
            state={},
            slots={},
            customer={},
        )
        session.add(conversation)
    if customer:
        conversation.customer = {**conversation.customer, **customer}
    return conversation


def log(
    session: AsyncSession,
    conversation: Conversation,
    *,
    direction: str,
    text: str,
    action: str | None = None,
    message_id: str | None = None,
    author: str | None = None,
) -> None:
    """Append one line to the conversation's history (`author`: the person who wrote an
    outgoing line, an agent, when it is not the bot's)."""
    session.add(
        ConversationMessage(
            conversation_id=conversation.id,
            direction=direction,
            text=text,
            action=action,
            message_id=message_id,
            author=author,
        )
    )


async def history(session: AsyncSession, *, conversation_id: str) -> list[ConversationMessage]:
    """A conversation's lines, oldest first."""
    query = (
        select(ConversationMessage)
        .where(ConversationMessage.conversation_id == conversation_id)
        .order_by(ConversationMessage.id)
    )
    return list((await session.execute(query)).scalars())
