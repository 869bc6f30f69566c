"""The dialogue's view of the stored knowledge base across an import (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.dialogue.knowledge import ServiceKnowledge
from knowledge_base.service import KnowledgeService
from tests.knowledge_base.test_index import SMALL_KB, small_kb
from tests.knowledge_base.test_service import store


async def test_the_dialogue_reads_the_names_an_import_adds(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    """What a text names is remembered per text, and forgotten with the graph it was read in:
    after an import that adds a model, the same text names it."""
    await store(sessions, small_kb())
    knowledge = ServiceKnowledge(await KnowledgeService.open(sessions, tmp_path / "index"))
    text = "AC-500 报E03"
    assert knowledge.mentions(text).products == frozenset()
    assert knowledge.mentions(text) is knowledge.mentions(text)
    products = [*SMALL_KB["products"], {"id": "AC-500", "name": {"en": "AC-500"}}]
    await store(sessions, small_kb(products=products))
    await knowledge.service.refresh(sessions)
    assert knowledge.mentions(text).products == frozenset({"AC-500"})
    assert knowledge.mentions(text).codes == frozenset({"E03"})
