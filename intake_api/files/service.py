"""Storage functions for file rows (the caller owns the transaction; blobs are the store's)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.dialogue.models import Conversation
from intake_api.files.models import StoredFile
from intake_api.messages.models import StoredMessage


async def get(session: AsyncSession, file_id: str) -> StoredFile | None:
    return await session.get(StoredFile, file_id)


def _message_of_file() -> object:
    return (StoredMessage.channel == StoredFile.channel) & (
        StoredMessage.message_id == StoredFile.message_id
    )


async def of_conversation(session: AsyncSession, conversation_id: str) -> list[StoredFile]:
    """The files of a conversation's messages, oldest first."""
    query = (
        select(StoredFile)
        .join(StoredMessage, _message_of_file())  # type: ignore[arg-type]
        .where(StoredMessage.conversation_id == conversation_id)
        .order_by(StoredFile.created_at, StoredFile.id)
    )
    return list((await session.execute(query)).scalars())


async def delete_rows(session: AsyncSession, rows: list[StoredFile]) -> list[str]:
    """Delete `rows`; the content keys no row refers to any more (their blobs can go)."""
    keys = {row.sha256 for row in rows}
    if not rows:
        return []
    await session.execute(delete(StoredFile).where(StoredFile.id.in_([r.id for r in rows])))
    still_used = select(StoredFile.sha256).where(StoredFile.sha256.in_(keys))
    used = set((await session.execute(still_used)).scalars())
    return sorted(keys - used)


async def expired(session: AsyncSession, cutoff: datetime) -> list[StoredFile]:
    """Files older than `cutoff`, and files whose conversation was deleted."""
    conversation_gone = (
        select(StoredMessage.id)
        .where(_message_of_file())  # type: ignore[arg-type]
        .where(StoredMessage.conversation_id.is_not(None))
        .where(~exists().where(Conversation.id == StoredMessage.conversation_id))
    )
    query = select(StoredFile).where((StoredFile.created_at < cutoff) | exists(conversation_gone))
    return list((await session.execute(query)).scalars())
