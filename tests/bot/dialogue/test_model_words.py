"""A model's name weighs on the search: it ranks the model's faults above what the rest of the
customer's words ask. The words without the name are searched too, before the bot asks for an
alarm code or gives up (bench KBs of the repository: the sample and the fitness equipment)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.dialogue.knowledge import ServiceKnowledge, open_folder
from tests.bot.dialogue.conftest import FixedIntent, engine, saying

BENCH = Path(__file__).resolve().parents[3] / "bench" / "data"


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> ServiceKnowledge:
    return open_folder(BENCH / "sample" / "kb-sample.yaml", tmp_path_factory.mktemp("sample"))


@pytest.fixture(scope="module")
def forklifts(tmp_path_factory: pytest.TempPathFactory) -> ServiceKnowledge:
    return open_folder(BENCH / "holdout" / "kb.yaml", tmp_path_factory.mktemp("forklifts"))


@pytest.fixture(scope="module")
def vending(tmp_path_factory: pytest.TempPathFactory) -> ServiceKnowledge:
    return open_folder(BENCH / "holdout16" / "kb.yaml", tmp_path_factory.mktemp("vending"))


@pytest.fixture(scope="module")
def fitness(tmp_path_factory: pytest.TempPathFactory) -> ServiceKnowledge:
    return open_folder(BENCH / "holdout30" / "kb.yaml", tmp_path_factory.mktemp("fitness"))


async def test_the_words_without_the_model_answer_a_site_question(
    sample: ServiceKnowledge, sessions: async_sessionmaker[AsyncSession]
) -> None:
    say = saying(engine(sample, FixedIntent("installation", 0.25)), sessions)
    text = "Our BM-3 arrives next month. What does the site need for it - power, water, drain?"
    answer = await say(text)
    assert answer.action == "answer"
    assert answer.kb_hits[0].id == "FAQ-BM-installation"


async def test_a_price_is_not_searched_without_the_model(
    forklifts: ServiceKnowledge, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Without the model, "how much is a replacement battery" finds the battery's FAQ (its
    recycling): a price is the sales team's, not a question for the words alone."""
    say = saying(engine(forklifts, FixedIntent("spare_parts", 0.44)), sessions)
    answer = await say("How much is a replacement lithium battery for the EF25?")
    assert answer.action != "answer"


async def test_a_described_problem_is_offered_not_asked_for_again(
    fitness: ServiceKnowledge, sessions: async_sessionmaker[AsyncSession]
) -> None:
    say = saying(engine(fitness, FixedIntent("ask_fault", 0.51)), sessions)
    answer = await say("AL700 啲鐵落返去嗰陣砰一聲，成個健身室都聽到")
    assert answer.action == "clarify"
    assert [hit.id for hit in answer.kb_hits][:1] == ["F-AF-al-slam"]


async def test_a_company_wide_faq_is_offered_instead_of_asking_which_equipment(
    fitness: ServiceKnowledge, sessions: async_sessionmaker[AsyncSession]
) -> None:
    say = saying(engine(fitness, FixedIntent("maintenance", 0.66)), sessions)
    answer = await say("how often should we lube the tredmill deck and check its cables")
    assert answer.action == "clarify"
    assert [hit.id for hit in answer.kb_hits] == ["FAQ-AF-maintenance"]


async def test_a_kind_named_with_what_is_seen_is_offered_not_asked_which_equipment(
    vending: ServiceKnowledge, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """ "零食機" is the snack machine's kind: "which equipment?" would ask what was just said."""
    say = saying(engine(vending, FixedIntent("ask_fault", 0.66)), sessions)
    answer = await say("零食機唔收散紙，啲硬幣一放入去即刻跌返出嚟")
    assert answer.action == "clarify"
    assert [hit.id for hit in answer.kb_hits][:1] == ["F-QM-QV640-E41"]
