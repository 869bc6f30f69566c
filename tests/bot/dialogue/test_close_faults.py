"""A symptom report whose best faults are close to each other, under the search's score bar but
confident (the calibrated confidence at the answer bar or more), is offered as "did you mean …?"
with those faults: the customer already said what they see, so asking for the alarm code or
what they see again would make them repeat themselves."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.dialogue.knowledge import ServiceKnowledge
from bot.dialogue.ports import Candidate
from tests.bot.dialogue.conftest import engine, saying


class _CloseFaults(ServiceKnowledge):
    """The test KB, whose search finds three AC-300 faults within a few hundredths of each
    other, the best under the score bar at `confidence`; the words without the model find
    them unsurely."""

    def __init__(self, knowledge: ServiceKnowledge, confidence: float) -> None:
        super().__init__(knowledge.service)
        self.confidence = confidence

    def search(self, text: str, lang: str, k: int) -> list[Candidate]:
        score = self.threshold - 0.06
        best = self.confidence if "AC-300" in text else 0.2
        return [
            Candidate("F-300-hot", "fault", score, "Overheating", ("AC-300",), (), best),
            Candidate("F-300-e05", "fault", score - 0.03, "E05", ("AC-300",), ("E05",), 0.6),
            Candidate("F-300-oil", "fault", score - 0.04, "Oil low", ("AC-300",), (), 0.55),
        ]


@pytest.mark.parametrize(("above_bar", "offered"), [(True, True), (False, False)])
async def test_a_confident_close_call_under_the_score_bar_offers_the_faults(
    knowledge: ServiceKnowledge,
    sessions: async_sessionmaker[AsyncSession],
    above_bar: bool,
    offered: bool,
) -> None:
    bar = knowledge.answer_confidence
    confidence = bar + 0.05 if above_bar else bar - 0.1
    say = saying(engine(_CloseFaults(knowledge, confidence)), sessions)
    turn = await say("AC-300 一加载电流就飙高然后停机，车间电压偏低", sender=f"c{above_bar}")
    assert turn.action == "clarify"
    offered_ids = [hit.id for hit in turn.kb_hits]
    if offered:
        assert offered_ids[:3] == ["F-300-hot", "F-300-e05", "F-300-oil"]
        assert "Overheating" in turn.replies[0].text
    else:
        assert offered_ids == []  # asked for the code or what they see instead
