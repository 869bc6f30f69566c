"""Storage functions for phone calls (the caller owns the transaction)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from channels.phone.transcripts import Transcript
from core.columns import utcnow
from intake_api.calls.models import STATUS_ANSWERED, PhoneCall


async def get(session: AsyncSession, *, call_id: str) -> PhoneCall | None:
    """The stored call delivered under `call_id`."""
    return await session.scalar(select(PhoneCall).where(PhoneCall.call_id == call_id))


def create(session: AsyncSession, *, transcript: Transcript) -> PhoneCall:
    """A new call row (its unique `call_id` rejects a second delivery at the commit)."""
    call = PhoneCall(
        call_id=transcript.call_id,
        caller=transcript.caller,
        format=transcript.format,
        segments=[segment.as_json() for segment in transcript.segments],
    )
    session.add(call)
    return call


async def delete(session: AsyncSession, *, call_pk: int) -> None:
    """Forget a call whose handling failed, so that a retry of it starts afresh."""
    call = await session.get(PhoneCall, call_pk)
    if call is not None:
        await session.delete(call)


async def mark_answered(
    session: AsyncSession,
    *,
    call_pk: int,
    conversation_id: str | None,
    ticket_id: str | None,
    response: dict[str, Any],
) -> None:
    """Store what the call made and the answer its sender got (and a repeat of it gets)."""
    call = await session.get(PhoneCall, call_pk)
    assert call is not None, "the call was stored before it was understood"
    call.status = STATUS_ANSWERED
    call.conversation_id = conversation_id or None
    call.ticket_id = ticket_id
    call.response = response
    call.answered_at = utcnow()
