"""Storage functions for inbound messages (the caller owns the transaction)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from intake_api.audit.columns import utcnow
from intake_api.messages.models import (
    STATUS_ANSWERED,
    STATUS_FAILED,
    STATUS_PROCESSING,
    InboundMessage,
    MessageIn,
)


async def get(session: AsyncSession, *, channel: str, message_id: str) -> InboundMessage | None:
    """The stored message a channel delivered under `message_id`."""
    query = select(InboundMessage).where(
        InboundMessage.channel == channel, InboundMessage.message_id == message_id
    )
    return (await session.execute(query)).scalar_one_or_none()


def create(session: AsyncSession, *, data: MessageIn) -> InboundMessage:
    """A new inbound message row (flushed by the caller's commit; the unique channel+message_id
    rejects a duplicate there)."""
    message = InboundMessage(
        channel=data.channel,
        message_id=data.message_id,
        sender_id=data.sender_id,
        text=data.text,
        lang=data.lang,
        customer=data.customer.model_dump(exclude_none=True) if data.customer else None,
    )
    session.add(message)
    return message


async def mark_processing(session: AsyncSession, *, message_pk: int) -> None:
    """The bot has started on the message (an UPDATE: the transaction's first statement)."""
    await session.execute(
        update(InboundMessage)
        .where(InboundMessage.id == message_pk)
        .values(status=STATUS_PROCESSING)
    )


async def mark_answered(
    session: AsyncSession, *, message_pk: int, conversation_id: str, response: dict[str, Any]
) -> None:
    """Store the response the caller gets (and every retry of the same message gets)."""
    message = await session.get(InboundMessage, message_pk)
    assert message is not None, "the inbound message was stored before the bot ran"
    message.status = STATUS_ANSWERED
    message.conversation_id = conversation_id
    message.response = response
    message.answered_at = utcnow()


async def mark_failed(
    session: AsyncSession, *, message_pk: int, error: str, response: dict[str, Any]
) -> None:
    """Keep a message the bot failed on, with the error and the fallback reply it got."""
    await session.execute(
        update(InboundMessage)
        .where(InboundMessage.id == message_pk)
        .values(status=STATUS_FAILED, error=error[:4000], response=response, answered_at=utcnow())
    )
