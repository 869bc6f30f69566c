"""Storage functions for conversations and their history (no commits: the caller's transaction).

A new conversation and the lines of history are written with plain INSERTs when the
transaction commits (or before its history is read), not through the ORM's unit of work: a
message's first turn spent about 1.7 ms of CPU in that flush, for three rows nobody loads. A
new conversation is not found by a query before then; `history` writes what is pending first.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, event, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, make_transient_to_detached

from bot.dialogue.models import (
    CONVERSATION_CLOSED,
    CONVERSATION_OPEN,
    Conversation,
    ConversationMessage,
    utcnow,
)

_CONVERSATIONS = cast(Table, Conversation.__table__)
_LINES = cast(Table, ConversationMessage.__table__)
_INSERT_CONVERSATIONS = insert(_CONVERSATIONS)
_INSERT_LINES = insert(_LINES)
_PENDING = "conversations.pending"  # the session's `info` key


@dataclass
class _Pending:
    """What a transaction added and has not written yet."""

    conversations: list[Conversation] = field(default_factory=list)
    lines: list[dict[str, Any]] = field(default_factory=list)


def _pending(session: AsyncSession | Session) -> _Pending:
    return cast(_Pending, session.info.setdefault(_PENDING, _Pending()))


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
        now = utcnow()
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
            version=1,
            created_at=now,
            updated_at=now,
        )
        _pending(session).conversations.append(conversation)
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
    outgoing line, an agent, when it is not the bot's); written with the transaction."""
    line = {
        "conversation_id": conversation.id,
        "direction": direction,
        "text": text,
        "action": action,
        "message_id": message_id,
        "author": author,
        "created_at": utcnow(),
    }
    _pending(session).lines.append(line)


async def write_pending(session: AsyncSession) -> None:
    """Write the new conversations and lines this transaction added so far."""
    if session.info.get(_PENDING):
        await session.run_sync(_write_pending)


@event.listens_for(Session, "before_commit")
def _write_pending(session: Session) -> None:
    """New conversations first (their lines refer to them), then the lines, in the order
    logged. A written conversation joins the session as if loaded: later changes are UPDATEs."""
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    if pending.conversations:
        rows = [_conversation_row(c) for c in pending.conversations]
        session.execute(_INSERT_CONVERSATIONS, rows)
        for conversation in pending.conversations:
            make_transient_to_detached(conversation)
            session.add(conversation)
    if pending.lines:
        session.execute(_INSERT_LINES, pending.lines)


@event.listens_for(Session, "after_rollback")
def _forget_pending(session: Session) -> None:
    """A transaction rolled back: what it added is not to be written by a later one."""
    session.info.pop(_PENDING, None)


def _conversation_row(conversation: Conversation) -> dict[str, Any]:
    return {column.key: getattr(conversation, column.key) for column in _CONVERSATIONS.columns}


async def history(session: AsyncSession, *, conversation_id: str) -> list[ConversationMessage]:
    """A conversation's lines, oldest first (those this transaction added included)."""
    await write_pending(session)
    query = (
        select(ConversationMessage)
        .where(ConversationMessage.conversation_id == conversation_id)
        .order_by(ConversationMessage.id)
    )
    return list((await session.execute(query)).scalars())
