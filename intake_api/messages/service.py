"""Storage functions for inbound messages (the caller owns the transaction)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.columns import utcnow
from core.messages import InboundMessage
from intake_api.messages.models import (
    STATUS_ANSWERED,
    STATUS_FAILED,
    STATUS_PROCESSING,
    StoredMessage,
)


async def get(session: AsyncSession, *, channel: str, message_id: str) -> StoredMessage | None:
    """The stored message a channel delivered under `message_id`."""
    query = select(StoredMessage).where(
        StoredMessage.channel == channel, StoredMessage.message_id == message_id
    )
    return (await session.execute(query)).scalar_one_or_none()


async def exists(session: AsyncSession, *, channel: str, message_id: str) -> bool:
    """Whether a channel delivered `message_id` before (its id only: no row is loaded)."""
    query = select(StoredMessage.id).where(
        StoredMessage.channel == channel, StoredMessage.message_id == message_id
    )
    return (await session.execute(query)).first() is not None


def create(session: AsyncSession, *, data: InboundMessage) -> StoredMessage:
    """A new inbound message row (flushed by the caller's commit; the unique channel+message_id
    rejects a duplicate there). Attachments are kept by reference; inline bytes are not stored
    in the message row."""
    message = StoredMessage(
        channel=data.channel,
        message_id=data.message_id,
        sender_id=data.sender_id,
        text=data.text,
        lang=data.lang,
        customer=data.customer_facts() or None,
        attachments=[
            a.model_dump(exclude_none=True, exclude={"data_base64"}) for a in data.attachments
        ]
        or None,
    )
    session.add(message)
    return message


async def mark_processing(session: AsyncSession, *, message_pk: int) -> None:
    """The bot has started on the message (an UPDATE: the transaction's first statement, which
    SQLite needs to queue the transaction behind other writers; the status is overwritten before
    the transaction commits, so nobody else ever sees it)."""
    await session.execute(
        update(StoredMessage).where(StoredMessage.id == message_pk).values(status=STATUS_PROCESSING)
    )


async def mark_answered(
    session: AsyncSession, *, message_pk: int, conversation_id: str, response: dict[str, Any]
) -> None:
    """Store the response the caller gets (and every retry of the same message gets); one
    UPDATE, the row is not loaded."""
    await session.execute(
        update(StoredMessage)
        .where(StoredMessage.id == message_pk)
        .values(
            status=STATUS_ANSWERED,
            conversation_id=conversation_id,
            response=response,
            answered_at=utcnow(),
        )
    )


async def mark_failed(
    session: AsyncSession, *, message_pk: int, error: str, response: dict[str, Any]
) -> None:
    """Keep a message the bot failed on, with the error and the fallback reply it got."""
    await session.execute(
        update(StoredMessage)
        .where(StoredMessage.id == message_pk)
        .values(status=STATUS_FAILED, error=error[:4000], response=response, answered_at=utcnow())
    )
