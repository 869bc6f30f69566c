"""Conversations and their history are written with the transaction that adds them: plain
INSERTs at commit (or before the history is read), nothing when it rolls back."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.dialogue import conversations
from bot.dialogue.models import Conversation, ConversationMessage
from core.database import unit_of_work

IDLE = timedelta(minutes=30)


async def _open(session: AsyncSession, sender: str) -> Conversation:
    return await conversations.open_live(
        session, channel="web", sender_id=sender, lang="en", customer={}, idle_after=IDLE
    )


async def _stored(
    sessions: async_sessionmaker[AsyncSession], sender: str
) -> tuple[Conversation, list[str]]:
    """The sender's live conversation as stored, and the texts of its history."""
    async with sessions() as session:
        stored = await conversations.get_live(session, channel="web", sender_id=sender)
        assert stored is not None
        lines = await conversations.history(session, conversation_id=stored.id)
    return stored, [line.text for line in lines]


async def test_a_new_conversation_and_its_lines_are_written_at_commit(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with unit_of_work(sessions) as session:
        conversation = await _open(session, "ann")
        conversations.log(session, conversation, direction="in", text="E05 again")
        conversations.log(session, conversation, direction="out", text="Clean the cooler")
        conversation.state = {"stage": "feedback"}  # changed after it was opened: kept
    stored, lines = await _stored(sessions, "ann")
    assert stored.id == conversation.id
    assert stored.state == {"stage": "feedback"} and stored.version == 1
    assert lines == ["E05 again", "Clean the cooler"]


async def test_the_history_read_in_the_transaction_holds_its_new_lines(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with unit_of_work(sessions) as session:
        conversation = await _open(session, "bob")
        conversations.log(session, conversation, direction="in", text="hello")
        lines = await conversations.history(session, conversation_id=conversation.id)
        assert [line.text for line in lines] == ["hello"]
        conversations.log(session, conversation, direction="out", text="hi")
        conversation.status = "handoff"  # a change after it was written: an UPDATE
    stored, lines = await _stored(sessions, "bob")
    assert stored.status == "handoff" and lines == ["hello", "hi"]


async def test_a_rolled_back_transaction_writes_nothing(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    with pytest.raises(RuntimeError):
        async with unit_of_work(sessions) as session:
            conversation = await _open(session, "cy")
            conversations.log(session, conversation, direction="in", text="lost")
            raise RuntimeError("the bot failed")
    async with sessions() as session:
        assert await conversations.get_live(session, channel="web", sender_id="cy") is None
        lost = select(ConversationMessage.id).where(ConversationMessage.text == "lost")
        assert (await session.scalars(lost)).all() == []
