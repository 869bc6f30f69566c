"""What the web chat reads and writes in the database (the caller owns the transaction): a
session's conversation history, its tickets, and notices pushed to it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.dialogue import conversations
from bot.dialogue.models import Conversation, ConversationMessage
from intake_api.tickets.models import Ticket

CHANNEL = "webchat"
HISTORY_LIMIT = 200
TICKETS_LIMIT = 10
NOTICE_ACTION = "notice"


async def latest_conversation(session: AsyncSession, *, sender_id: str) -> Conversation | None:
    """The session's newest conversation, live or closed (its history is what the page shows)."""
    query = (
        select(Conversation)
        .where(Conversation.channel == CHANNEL, Conversation.sender_id == sender_id)
        .order_by(Conversation.created_at.desc(), Conversation.id.desc())
        .limit(1)
    )
    return await session.scalar(query)


def message_frame(line: ConversationMessage, sender_id: str) -> dict[str, Any]:
    """One history line as the page renders it; a customer line keeps the page's own id for
    it (the page sent `<session id>:<client id>` as the message id)."""
    prefix = f"{sender_id}:"
    message_id = line.message_id or ""
    return {
        "id": line.id,
        "from": "customer" if line.direction == "in" else "bot",
        "text": line.text,
        "action": line.action,
        "client_id": message_id[len(prefix) :] if message_id.startswith(prefix) else None,
        "at": line.created_at.isoformat() if line.created_at else None,
    }


async def history(
    session: AsyncSession, *, sender_id: str
) -> tuple[Conversation | None, list[dict[str, Any]]]:
    """The session's newest conversation, and the last `HISTORY_LIMIT` lines of all its
    conversations (a goodbye closes one; the page still shows what came before), oldest first."""
    conversation = await latest_conversation(session, sender_id=sender_id)
    if conversation is None:
        return None, []
    query = (
        select(ConversationMessage)
        .join(Conversation, Conversation.id == ConversationMessage.conversation_id)
        .where(Conversation.channel == CHANNEL, Conversation.sender_id == sender_id)
        .order_by(ConversationMessage.id.desc())
        .limit(HISTORY_LIMIT)
    )
    lines = list(await session.scalars(query))
    return conversation, [message_frame(line, sender_id) for line in reversed(lines)]


async def ticket_ids(session: AsyncSession, *, sender_id: str) -> list[str]:
    """The readable ids of the tickets this session's conversations made, newest first."""
    query = (
        select(Ticket)
        .where(Ticket.channel == CHANNEL, Ticket.sender_id == sender_id)
        .order_by(Ticket.id.desc())
        .limit(TICKETS_LIMIT)
    )
    return [ticket.public_id for ticket in await session.scalars(query)]


async def store_notice(
    session: AsyncSession, *, sender_id: str, text: str
) -> dict[str, Any] | None:
    """Append a notice (a ticket status change) to the session's newest conversation, so a
    page that is closed now shows it on its next connect; None when the session has none."""
    conversation = await latest_conversation(session, sender_id=sender_id)
    if conversation is None:
        return None
    conversations.log(session, conversation, direction="out", text=text, action=NOTICE_ACTION)
    await session.flush()
    query = (
        select(ConversationMessage)
        .where(ConversationMessage.conversation_id == conversation.id)
        .order_by(ConversationMessage.id.desc())
        .limit(1)
    )
    line = await session.scalar(query)
    return message_frame(line, sender_id) if line is not None else None
