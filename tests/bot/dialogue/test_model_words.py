"""A model's name weighs on the search: it ranks the model's faults above what the rest of the
customer's words ask. The words without the name are searched too, before the bot asks for an
alarm code or gives up (KBs of the repository's benchmark sets)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.dialogue.engine import _name_pattern
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


@pytest.mark.parametrize(
    ("kb", "intent", "text", "faq"),
    [
        ("holdout25", "maintenance", "拷边机多长时间换一次油", "FAQ-KV-maintenance"),
        ("holdout12", "spare_parts", "PB-E40用的是欧式模具吗", "FAQ-OV-tooling"),
        # The 的 the alias leaves ("的吸附剂") would rank the warranty FAQ ("…的保修") first.
        ("holdout17", "maintenance", "吸干机的吸附剂几年换一次", "FAQ-BV-maintenance"),
        # The kinds are named in Traditional script, the KB's aliases in Simplified.
        (
            "holdout23",
            "installation",
            "想搬部立風櫃去第二間舖，可唔可以打側搬",
            "FAQ-NB-relocation",
        ),
        (
            "holdout27",
            "installation",
            "部立式機要接幾多伏電㗎？地方要預留幾大",
            "FAQ-TR-installation",
        ),
    ],
)
async def test_a_question_about_the_model_is_answered_when_the_nlu_agrees(
    bench_kb: BenchKb,
    sessions: async_sessionmaker[AsyncSession],
    kb: str,
    intent: str,
    text: str,
    faq: str,
) -> None:
    """The model's name ranks its faults first; without it the words find an FAQ of the
    category the NLU reads, though unsurely: the two readings agree, and asking for the alarm
    code of a question would not help."""
    say = saying(engine(bench_kb(f"{kb}/kb.yaml"), FixedIntent(intent, 0.4)), sessions)
    answer = await say(text)
    assert answer.action == "answer"
    assert answer.kb_hits[0].id == faq


@pytest.mark.parametrize(
    ("kb", "intent", "text"),
    [
        # The NLU reads another kind of question.
        ("holdout25", "ask_fault", "拷边机多长时间换一次油"),
        # Two maintenance FAQs lead the words (storage, service intervals): which one is meant
        # is not settled by the NLU's reading.
        ("holdout5", "maintenance", "GS250多少小时要换一次机油和滤芯"),
    ],
)
async def test_a_question_the_readings_do_not_settle_is_not_answered_for_the_model(
    bench_kb: BenchKb,
    sessions: async_sessionmaker[AsyncSession],
    kb: str,
    intent: str,
    text: str,
) -> None:
    say = saying(engine(bench_kb(f"{kb}/kb.yaml"), FixedIntent(intent, 0.4)), sessions)
    answer = await say(text)
    assert answer.action != "answer"


@pytest.mark.parametrize(
    ("name", "text", "found"),
    [
        ("HX-75", "an all-inclusive contract for our two HX-75s?", True),
        ("HX-75", "hx75 漏油", True),
        ("HX-75", "the HX 75's filter", True),
        ("AS-45", "can the AS-450 go on a second floor", False),
        ("AS-45", "AS-45X", False),
    ],
)
def test_a_model_name_is_taken_out_whole_as_customers_write_it(
    name: str, text: str, found: bool
) -> None:
    assert bool(re.search(_name_pattern(name), text, flags=re.IGNORECASE)) is found
