"""A customer who says no alarm shows gets, of two close faults, the one without an alarm code."""

from __future__ import annotations

import pytest

from bot.dialogue.knowledge import NO_ALARM_MARGIN, ServiceKnowledge
from bot.dialogue.ports import Candidate


def hits(second: float) -> list[Candidate]:
    return [
        Candidate("F-T08", "fault", 0.52, codes=("T08",), confidence=0.86),
        Candidate("F-swing", "fault", second, confidence=0.83),
    ]


def test_the_uncoded_fault_goes_first_when_no_alarm_shows(
    knowledge: ServiceKnowledge, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(knowledge, "by_named_component", lambda _t, found: found)
    found = hits(0.50)
    monkeypatch.setattr("bot.dialogue.knowledge._candidate", lambda _g, hit: hit, raising=True)
    monkeypatch.setattr(knowledge.service, "search", lambda *_a, **_k: found)
    said = knowledge.search("temperature keeps drifting, no alarm at all", "en", 5)
    assert [c.id for c in said[:2]] == ["F-swing", "F-T08"]
    assert said[0].score == 0.52
    plain = knowledge.search("temperature keeps drifting", "en", 5)
    assert [c.id for c in plain[:2]] == ["F-T08", "F-swing"]
    far = hits(0.52 - NO_ALARM_MARGIN - 0.01)
    monkeypatch.setattr(knowledge.service, "search", lambda *_a, **_k: far)
    kept = knowledge.search("temperature keeps drifting, no alarm at all", "en", 5)
    assert [c.id for c in kept[:2]] == ["F-T08", "F-swing"]
