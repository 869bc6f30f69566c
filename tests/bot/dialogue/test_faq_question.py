"""An FAQ clearly ahead whose own question the customer asks is answered from the middle band
(its confidence is raised to the answer bar); a question asking for a size gets no fault."""

from __future__ import annotations

from bot.dialogue.knowledge import ServiceKnowledge
from bot.dialogue.ports import Candidate


def hits(confidence: float, second: float) -> list[Candidate]:
    return [
        Candidate(id="FAQ-warranty", type="faq", score=0.55, confidence=confidence),
        Candidate(id="F-AC-E03", type="fault", score=second, confidence=0.1),
    ]


def test_a_clear_faq_whose_question_is_asked_reaches_the_bar(knowledge: ServiceKnowledge) -> None:
    found = knowledge.with_question_match("保修期到底多长啊", hits(0.5, 0.3))
    assert found[0].confidence == knowledge.answer_confidence
    assert found[1:] == hits(0.5, 0.3)[1:]


def test_words_only_its_answer_shares_do_not_raise_it(knowledge: ServiceKnowledge) -> None:
    """易损件 is in the warranty FAQ's answer, not in its questions."""
    found = knowledge.with_question_match("易损件在哪里买", hits(0.5, 0.3))
    assert found[0].confidence == 0.5


def test_a_close_second_or_a_low_confidence_keeps_it(knowledge: ServiceKnowledge) -> None:
    close_faq = [*hits(0.5, 0.5), Candidate(id="FAQ-hours", type="faq", score=0.45)]
    assert knowledge.with_question_match("保修期多久", close_faq)[0].confidence == 0.5
    assert knowledge.with_question_match("保修期多久", hits(0.2, 0.3))[0].confidence == 0.2


def test_a_fault_on_top_is_left_alone(knowledge: ServiceKnowledge) -> None:
    fault_first = list(reversed(hits(0.5, 0.3)))
    assert knowledge.with_question_match("保修期多久", fault_first) == fault_first


def test_no_fault_answers_a_question_about_a_size(knowledge: ServiceKnowledge) -> None:
    asked = knowledge.search("AC300 排气压力低，压力表尺寸是多大", "zh", 5)
    reported = knowledge.search("AC300 排气压力低", "zh", 5)
    assert [c.id for c in asked if c.type == "fault"]
    assert all(c.confidence == 0.0 for c in asked if c.type == "fault")
    assert reported[0].type == "fault" and (reported[0].confidence or 0.0) > 0.0


def test_an_faq_far_ahead_of_every_other_faq_reaches_the_bar(
    knowledge: ServiceKnowledge,
) -> None:
    """Only faults are close behind it: they answer symptoms, not a service question."""
    found = [*hits(0.35, 0.5), Candidate(id="FAQ-other", type="faq", score=0.2, confidence=0.1)]
    assert knowledge.with_question_match("保修期到底多长啊", found)[0].confidence == (
        knowledge.answer_confidence
    )
    close_faq = [*hits(0.35, 0.5), Candidate(id="FAQ-other", type="faq", score=0.3)]
    assert knowledge.with_question_match("保修期到底多长啊", close_faq)[0].confidence == 0.35
    assert knowledge.with_question_match("易损件在哪里买", found)[0].confidence == 0.35
