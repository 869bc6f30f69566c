"""A service question the NLU is sure of, whose best hit is an FAQ clearly ahead of the next
item, is answered from it at any confidence (dialogue.yml `sure_service_*`): general questions
(hotline hours, the app) asked in other words sit far under the bar on new knowledge bases."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.dialogue.knowledge import ServiceKnowledge
from bot.dialogue.ports import Candidate
from bot.dialogue.prompts import DialogueTexts
from tests.bot.dialogue.conftest import FixedIntent, engine, saying

TEXTS = DialogueTexts.load()


class _HoursAhead(ServiceKnowledge):
    """The test KB, whose search finds the opening-hours FAQ `lead` ahead of the next item, at
    a confidence far under every bar."""

    def __init__(self, knowledge: ServiceKnowledge, lead: float) -> None:
        super().__init__(knowledge.service)
        self.lead = lead

    def search(self, text: str, lang: str, k: int) -> list[Candidate]:
        top = Candidate("FAQ-hours", "faq", 0.28, confidence=0.1, category="other")
        return [top, Candidate("FAQ-warranty", "faq", 0.28 - self.lead, confidence=0.02)]


@pytest.mark.parametrize(
    ("nlu", "lead", "answered"),
    [
        (TEXTS.sure_service_intent, TEXTS.sure_service_lead, True),
        (TEXTS.sure_service_intent - 0.05, TEXTS.sure_service_lead, False),
        (TEXTS.sure_service_intent, TEXTS.sure_service_lead - 0.03, False),
    ],
)
async def test_a_sure_service_question_takes_a_clearly_leading_faq(
    knowledge: ServiceKnowledge,
    sessions: async_sessionmaker[AsyncSession],
    nlu: float,
    lead: float,
    answered: bool,
) -> None:
    """ "What time do you open on weekends?" → the hours FAQ at 0.1. (The words name no
    service: "support line" would agree with the FAQ's questions on their own.)"""
    assert "service_info" in TEXTS.sure_service_intents
    say = saying(engine(_HoursAhead(knowledge, lead), FixedIntent("service_info", nlu)), sessions)
    turn = await say("what time do you open on weekends?", sender="erin")
    assert (turn.action == "answer") is answered
    if answered:
        assert turn.kb_hits[0].id == "FAQ-hours"


class _CloseFaqs(ServiceKnowledge):
    """The test KB, whose search finds `first` a hair ahead of the other FAQ, far under the
    bars."""

    def __init__(self, knowledge: ServiceKnowledge, first: str) -> None:
        super().__init__(knowledge.service)
        self.first = first

    def search(self, text: str, lang: str, k: int) -> list[Candidate]:
        second = "FAQ-warranty" if self.first == "FAQ-hours" else "FAQ-hours"
        return [
            Candidate(self.first, "faq", 0.3, confidence=0.1, category="other"),
            Candidate(second, "faq", 0.29, confidence=0.1, category="other"),
        ]


@pytest.mark.parametrize(
    ("first", "text", "answered"),
    [
        ("FAQ-hours", "is there a 24 hour emergency number?", True),
        ("FAQ-hours", "24小时紧急电话是多少", True),
        # The warranty is named in many questions that are not about its terms.
        ("FAQ-warranty", "how long is the warranty on the pump?", False),
    ],
)
async def test_the_hotline_named_settles_its_faq_without_a_lead(
    knowledge: ServiceKnowledge,
    sessions: async_sessionmaker[AsyncSession],
    first: str,
    text: str,
    answered: bool,
) -> None:
    """The hotline FAQ ("客服工作时间") leads the warranty FAQ by a hair; the message names
    the hotline and nothing else does (dialogue.yml `unmistakable_services`): it answers."""
    assert "hotline 热线" in TEXTS.unmistakable_services
    say = saying(engine(_CloseFaqs(knowledge, first), FixedIntent("out_of_scope", 0.2)), sessions)
    turn = await say(text, sender="gus")
    assert (turn.action == "answer") is answered
    if answered:
        assert turn.kb_hits[0].id == first


class _WarrantyAhead(ServiceKnowledge):
    """The test KB, whose search finds the warranty FAQ a little ahead of another FAQ (under the
    lead a service named needs), far under the bars: a short question's confidence."""

    def search(self, text: str, lang: str, k: int) -> list[Candidate]:
        return [
            Candidate("FAQ-warranty", "faq", 0.3, confidence=0.13, category="warranty"),
            Candidate("FAQ-hours", "faq", 0.26, confidence=0.07, category="other"),
        ]


@pytest.mark.parametrize(
    ("intent", "nlu", "answered"),
    [
        ("warranty", TEXTS.category_agree_intent, True),
        ("warranty", TEXTS.category_agree_intent - 0.05, False),
        ("maintenance", 0.99, False),  # the NLU reads another category
    ],
)
async def test_a_certain_reading_the_words_and_the_faq_agree_on_the_service(
    knowledge: ServiceKnowledge,
    sessions: async_sessionmaker[AsyncSession],
    intent: str,
    nlu: float,
    answered: bool,
) -> None:
    """ "另外，保修多久？": the words name the warranty, the best hit is the FAQ naming it, and the
    NLU is nearly certain the question is about the warranty: three readings agree, no lead."""
    assert TEXTS.intent_categories["warranty"] == "warranty"
    say = saying(engine(_WarrantyAhead(knowledge.service), FixedIntent(intent, nlu)), sessions)
    turn = await say("另外，保修多久？", sender="hal")
    assert (turn.action == "answer") is answered
    if answered:
        assert turn.kb_hits[0].id == "FAQ-warranty"
