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
