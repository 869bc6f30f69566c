"""The dialogue's view of the stored knowledge base across an import (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.dialogue.knowledge import ServiceKnowledge, _shared_name
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


def test_a_line_is_labelled_by_the_kind_its_names_share_or_by_the_names() -> None:
    """ "Which equipment?" options: the stretch of a line's names they all share, when it says
    what kind of equipment (Chinese, or English of two words); else the names themselves, not
    "unit" (a condensing unit and a unit cooler) or "MIG/MAG welder with"."""
    boilers = ["PW-3 3吨 立式蒸汽锅炉", "PW-9 9吨 卧式蒸汽锅炉"]
    assert _shared_name(boilers, ["PW-3", "PW-9"]) == "蒸汽锅炉"
    welders = [
        "VM-350P 350 A pulse MIG/MAG welder with wire feeder",
        "VM-500D MIG/MAG welder with water-cooled torch",
    ]
    assert _shared_name(welders, ["VM-350P", "VM-500D"]) == "MIG/MAG welder"
    cold = ["NC-5HP 5 HP condensing unit", "NE-12F ceiling evaporator (unit cooler)"]
    assert _shared_name(cold, ["NC-5HP", "NE-12F"]) == (
        "5 HP condensing unit / ceiling evaporator (unit cooler)"
    )
