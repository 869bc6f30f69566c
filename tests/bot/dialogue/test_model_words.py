"""A model's name weighs on the search: it ranks the model's faults above what the rest of the
customer's words ask. The words without the name are searched too, before the bot asks for an
alarm code or gives up (KBs of the repository's benchmark sets)."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.bot.dialogue.conftest import BenchKb, FixedIntent, engine, saying


async def test_the_words_without_the_model_answer_a_site_question(
    bench_kb: BenchKb, sessions: async_sessionmaker[AsyncSession]
) -> None:
    say = saying(
        engine(bench_kb("sample/kb-sample.yaml"), FixedIntent("installation", 0.25)), sessions
    )
    text = "Our BM-3 arrives next month. What does the site need for it - power, water, drain?"
    answer = await say(text)
    assert answer.action == "answer"
    assert answer.kb_hits[0].id == "FAQ-BM-installation"


async def test_a_price_is_not_searched_without_the_model(
    bench_kb: BenchKb, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Without the model, "how much is a replacement battery" finds the battery's FAQ (its
    recycling): a price is the sales team's, not a question for the words alone."""
    say = saying(engine(bench_kb("holdout/kb.yaml"), FixedIntent("spare_parts", 0.44)), sessions)
    answer = await say("How much is a replacement lithium battery for the EF25?")
    assert answer.action != "answer"


@pytest.mark.parametrize(
    ("kb", "intent", "text", "first"),
    [
        # The customer said what they see; asking for the code would make them repeat it.
        ("holdout30", "ask_fault", "AL700 啲鐵落返去嗰陣砰一聲，成個健身室都聽到", "F-AF-al-slam"),
        # A company-wide FAQ leads: which equipment would not change the answer.
        (
            "holdout30",
            "maintenance",
            "how often should we lube the tredmill deck and check its cables",
            "FAQ-AF-maintenance",
        ),
        # "零食機" is the snack machine's kind: "which equipment?" would ask what was just said.
        ("holdout16", "ask_fault", "零食機唔收散紙，啲硬幣一放入去即刻跌返出嚟", "F-QM-QV640-E41"),
    ],
)
async def test_what_the_words_find_is_offered_instead_of_asking_again(
    bench_kb: BenchKb,
    sessions: async_sessionmaker[AsyncSession],
    kb: str,
    intent: str,
    text: str,
    first: str,
) -> None:
    say = saying(engine(bench_kb(f"{kb}/kb.yaml"), FixedIntent(intent, 0.6)), sessions)
    answer = await say(text)
    assert answer.action == "clarify"
    assert [hit.id for hit in answer.kb_hits][:1] == [first]
