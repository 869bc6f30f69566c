"""The knowledge-base decision: score bar, clarifying questions, and the confidence bar."""

from __future__ import annotations

from bot.dialogue.policy import decide
from bot.dialogue.ports import Candidate, Mentions

THRESHOLD = 0.37
BAR = 0.67


def hit(item_id: str, score: float, confidence: float | None, products: tuple[str, ...] = ()):
    return Candidate(item_id, "fault", score, products=products, confidence=confidence)


def test_a_confident_top_hit_is_the_answer() -> None:
    decision = decide([hit("F-1", 0.8, 0.9), hit("F-2", 0.4, 0.1)], Mentions(), THRESHOLD, BAR)
    assert decision.kind == "answer" and decision.item is not None and decision.item.id == "F-1"


def test_a_high_score_without_confidence_is_no_answer() -> None:
    """A price question scoring 0.75 on one generic word: the score alone would answer it."""
    decision = decide([hit("FAQ-1", 0.75, 0.3), hit("F-2", 0.2, 0.0)], Mentions(), THRESHOLD, BAR)
    assert decision.kind == "fallback" and decision.item is None


def test_close_candidates_about_different_models_still_get_a_question() -> None:
    """Low confidence from a close call is what the clarifying question is for."""
    hits = [hit("F-A", 0.6, 0.4, ("AC-100",)), hit("F-B", 0.58, 0.35, ("AC-300",))]
    decision = decide(hits, Mentions(), THRESHOLD, BAR)
    assert decision.kind == "clarify" and decision.options == ("AC-100", "AC-300")


def test_the_score_bar_still_applies() -> None:
    assert decide([hit("F-1", 0.3, 0.99)], Mentions(), THRESHOLD, BAR).kind == "fallback"


def test_hits_without_a_confidence_are_judged_by_the_score() -> None:
    """Methods other than the calibrated hybrid search carry no confidence."""
    assert decide([hit("F-1", 0.5, None)], Mentions(), THRESHOLD, BAR).kind == "answer"
