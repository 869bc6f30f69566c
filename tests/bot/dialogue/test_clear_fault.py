"""A fault over the score bar, clearly ahead of the next item and just under the answer
confidence, is answered (its confidence is raised to the bar); anything less keeps its own."""

from __future__ import annotations

from bot.dialogue.knowledge import ServiceKnowledge
from bot.dialogue.ports import Candidate


def hits(kind: str, confidence: float, second: float, score: float = 0.6) -> list[Candidate]:
    return [
        Candidate(id="F-AC-E03", type=kind, score=score, confidence=confidence),
        Candidate(id="F-AC-E04", type="fault", score=second, confidence=0.3),
    ]


def test_a_clear_fault_just_under_the_bar_reaches_it(knowledge: ServiceKnowledge) -> None:
    bar = knowledge.answer_confidence
    found = knowledge.with_clear_fault(hits("fault", bar - 0.01, 0.5))
    assert found[0].confidence == bar
    assert found[1:] == hits("fault", bar - 0.01, 0.5)[1:]


def test_a_close_second_a_low_confidence_or_score_keeps_it(knowledge: ServiceKnowledge) -> None:
    bar = knowledge.answer_confidence
    close = hits("fault", bar - 0.01, 0.57)
    low = hits("fault", 0.5, 0.3)
    under_bar = hits("fault", bar - 0.01, 0.0, score=knowledge.threshold - 0.01)
    for found in (close, low, under_bar):
        assert knowledge.with_clear_fault(found) == found


def test_an_faq_on_top_is_left_alone(knowledge: ServiceKnowledge) -> None:
    faq_first = hits("faq", knowledge.answer_confidence - 0.01, 0.3)
    assert knowledge.with_clear_fault(faq_first) == faq_first
