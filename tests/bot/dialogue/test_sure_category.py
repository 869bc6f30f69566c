"""A service question the NLU is sure of, whose best hit is the FAQ of that category, is
answered from a lower confidence (dialogue.yml `category_sure_*`); an unsure reading is not."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.dialogue.knowledge import ServiceKnowledge
from bot.dialogue.ports import Candidate
from bot.dialogue.prompts import DialogueTexts
from tests.bot.dialogue.conftest import FixedIntent, engine, saying

TEXTS = DialogueTexts.load()
LEAD = TEXTS.sure_service_lead


class _OneFaq(ServiceKnowledge):
    """The test KB, whose search finds the warranty FAQ at a fixed, low confidence."""

    def __init__(self, knowledge: ServiceKnowledge, confidence: float) -> None:
        super().__init__(knowledge.service)
        self.confidence = confidence

    def search(self, text: str, lang: str, k: int) -> list[Candidate]:
        faq = Candidate("FAQ-warranty", "faq", 0.3, confidence=self.confidence, category="warranty")
        return [faq, Candidate("FAQ-hours", "faq", 0.28, confidence=0.1)]


@pytest.mark.parametrize(
    ("nlu", "confidence", "action"),
    [
        (TEXTS.category_sure_intent, TEXTS.category_sure_confidence, "answer"),
        (TEXTS.category_sure_intent - 0.05, TEXTS.category_sure_confidence, "clarify"),
        (TEXTS.category_sure_intent, TEXTS.category_sure_confidence - 0.05, "clarify"),
    ],
)
async def test_a_sure_reading_lowers_the_bar_of_its_faq(
    knowledge: ServiceKnowledge,
    sessions: async_sessionmaker[AsyncSession],
    nlu: float,
    confidence: float,
    action: str,
) -> None:
    """ "The warranty, from delivery or from commissioning?" read as a warranty question at 0.7,
    the warranty FAQ at 0.3 (under the usual 0.5 of an agreeing category) is the answer."""
    assert TEXTS.category_sure_confidence < TEXTS.category_confidence
    say = saying(engine(_OneFaq(knowledge, confidence), FixedIntent("warranty", nlu)), sessions)
    turn = await say("保修从哪天开始算", sender="dora")
    assert turn.action == action


class _ShortQuestion(ServiceKnowledge):
    """The test KB, whose search finds the warranty FAQ over the search's bar, well ahead of the
    next item, at the near-zero confidence a short question gets."""

    def search(self, text: str, lang: str, k: int) -> list[Candidate]:
        bar = self.threshold
        faq = Candidate("FAQ-warranty", "faq", bar + 0.15, confidence=0.03, category="warranty")
        return [faq, Candidate("FAQ-hours", "faq", bar + 0.15 - LEAD, confidence=0.001)]


@pytest.mark.parametrize(
    ("nlu", "action"),
    [(TEXTS.category_agree_intent, "answer"), (TEXTS.category_agree_intent - 0.05, "clarify")],
)
async def test_a_nearly_certain_reading_and_a_clear_faq_lead_agree(
    knowledge: ServiceKnowledge, sessions: async_sessionmaker[AsyncSession], nlu: float, action: str
) -> None:
    """ "And the printhead, how long?" read as a warranty question at 0.9, and the warranty FAQ
    clearly first in the search: the answer, whatever its confidence. (The words name no
    service: a warranty named in them would agree with the FAQ's questions on their own.)"""
    say = saying(engine(_ShortQuestion(knowledge.service), FixedIntent("warranty", nlu)), sessions)
    turn = await say("and the printhead, how long?", sender="fay")
    assert turn.action == action


class _ComplaintFaq(ServiceKnowledge):
    """The test KB, whose search finds an FAQ on how to complain at a middling confidence."""

    confidence = 0.55

    def search(self, text: str, lang: str, k: int) -> list[Candidate]:
        faq = Candidate("FAQ-hours", "faq", 0.3, confidence=self.confidence, category="complaint")
        return [faq, Candidate("FAQ-warranty", "faq", 0.2, confidence=0.1, category="warranty")]


class _FaintComplaintFaq(_ComplaintFaq):
    """The FAQ on how to complain first, at the confidence of one sharing few words."""

    confidence = 0.001


async def test_asking_who_to_complain_to_is_answered_however_few_words_match(
    knowledge: ServiceKnowledge, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """The phrases say how to complain is asked, the search ranks the complaint FAQ first: its
    confidence does not matter. Without those phrases it does."""
    say = saying(engine(_FaintComplaintFaq(knowledge.service)), sessions)
    assert (await say("who do I complain to about the last visit?", sender="gil")).action == (
        "answer"
    )
    assert (await say("anything about the last visit?", sender="hal")).action != "answer"


@pytest.mark.parametrize(
    ("text", "action"),
    [
        ("请问对你们的服务不满意应该怎么投诉", "answer"),  # how to complain: the complaint FAQ
        ("想問下有咩渠道可以投訴你哋服務？", "answer"),  # the same in Cantonese
        ("请问对你们服务不满意应该向哪个部门反映", "answer"),  # where to take it
        ("想投訴你哋個工程師，要搵邊個？", "answer"),
        ("你们的服务太差了，我要投诉", "handoff"),  # a complaint made: a person
        ("请问对你们服务不满意的话可以通过什么渠道反映", "answer"),
        ("上次来的师傅态度很差，我想反映一下，该找哪个部门", "answer"),
        ("上次来的师傅态度很差", "handoff"),
    ],
)
async def test_asking_how_to_complain_is_answered_from_the_complaint_faq(
    knowledge: ServiceKnowledge, sessions: async_sessionmaker[AsyncSession], text: str, action: str
) -> None:
    say = saying(engine(_ComplaintFaq(knowledge.service), FixedIntent("complaint", 0.9)), sessions)
    turn = await say(text, sender="eve")
    assert turn.action == action


class _OtherFaqFirst(ServiceKnowledge):
    """The test KB, whose search finds the hours FAQ surely and the warranty FAQ next."""

    def __init__(self, knowledge: ServiceKnowledge, confidence: float) -> None:
        super().__init__(knowledge.service)
        self.confidence = confidence

    def search(self, text: str, lang: str, k: int) -> list[Candidate]:
        hours = Candidate("FAQ-hours", "faq", 0.6, confidence=0.95, category="consulting")
        warranty = Candidate(
            "FAQ-warranty", "faq", 0.4, confidence=self.confidence, category="warranty"
        )
        return [hours, warranty]


@pytest.mark.parametrize(
    ("nlu", "confidence", "answer"),
    [
        (TEXTS.category_sure_intent, TEXTS.suggest_confidence, "FAQ-warranty"),
        (TEXTS.category_sure_intent - 0.05, TEXTS.suggest_confidence, "FAQ-hours"),
        (TEXTS.category_sure_intent, TEXTS.suggest_confidence - 0.05, "FAQ-hours"),
    ],
)
async def test_a_sure_reading_takes_its_categorys_faq_over_another_first(
    knowledge: ServiceKnowledge,
    sessions: async_sessionmaker[AsyncSession],
    nlu: float,
    confidence: float,
    answer: str,
) -> None:
    """ "喷码机的墨路多长时间要保养一次" finds the warranty FAQ first ("保修多长时间"); the NLU
    is sure it asks about maintenance, and the maintenance FAQ is next in the middle band: that
    one answers. Unsure, or with the next one under the middle band, the first FAQ stands."""
    say = saying(
        engine(_OtherFaqFirst(knowledge, confidence), FixedIntent("warranty", nlu)), sessions
    )
    turn = await say("how long before the unit needs looking at again?", sender="fay")
    answered = turn.kb_hits[0].id if turn.action == "answer" else None
    assert answered == answer


class _FaultFirst(ServiceKnowledge):
    """The test KB, whose search finds a fault surely and the warranty FAQ next."""

    def search(self, text: str, lang: str, k: int) -> list[Candidate]:
        fault = Candidate("F-oil-low", "fault", 0.6, confidence=0.95, category="repair")
        warranty = Candidate("FAQ-warranty", "faq", 0.4, confidence=0.5, category="warranty")
        return [fault, warranty]


@pytest.mark.parametrize(
    ("nlu", "answer"),
    [(TEXTS.category_agree_intent, "FAQ-warranty"), (TEXTS.category_sure_intent, "F-oil-low")],
)
async def test_a_nearly_certain_reading_takes_its_categorys_faq_over_a_fault(
    knowledge: ServiceKnowledge,
    sessions: async_sessionmaker[AsyncSession],
    nlu: float,
    answer: str,
) -> None:
    """ "HS-50 的 warranty 有多久，门封条包不包" finds the door's fault first: the NLU, nearly
    certain it asks about the warranty, takes the warranty FAQ next to it; merely sure, the
    fault stands (a fault report the NLU misreads is still answered)."""
    say = saying(engine(_FaultFirst(knowledge.service), FixedIntent("warranty", nlu)), sessions)
    turn = await say("is the low oil on the AC-300 covered?", sender="hal")
    assert (turn.action, turn.kb_hits[0].id) == ("answer", answer)
