"""The answer-confidence model: shipped fit, its inputs, and what it refuses to read."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from knowledge_base.calibration import (
    FEATURES,
    MAX_TOKENS,
    Calibration,
    HitSignals,
    features,
    shipped_calibration,
)

SIGNALS = HitSignals(
    score=0.6, dense=0.5, lexical=0.5, evidence=0.03, is_faq=False, gap=0.1, zh=True, tokens=12
)


def test_the_shipped_fit_loads_with_a_threshold_between_0_and_1() -> None:
    calibration = shipped_calibration()
    assert len(calibration.coefficients) == len(FEATURES)
    assert 0.0 < calibration.answer_threshold < 1.0
    assert 0.0 < calibration.confidence(SIGNALS) < 1.0


def test_confidence_grows_with_the_score_and_the_lead_over_the_next_hit() -> None:
    confidence = shipped_calibration().confidence
    assert confidence(replace(SIGNALS, score=0.9)) > confidence(SIGNALS)
    assert confidence(replace(SIGNALS, gap=0.4)) > confidence(replace(SIGNALS, gap=0.0))


def test_a_very_long_text_counts_as_long_as_the_longest_training_queries() -> None:
    long = features(replace(SIGNALS, tokens=5000))
    capped = features(replace(SIGNALS, tokens=MAX_TOKENS))
    assert long.tolist() == capped.tolist()


def test_a_fit_for_other_features_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "calibration.json"
    path.write_text(
        json.dumps(
            {"features": ["score"], "coefficients": [1.0], "intercept": 0, "answer_threshold": 0.5}
        )
    )
    with pytest.raises(ValueError, match="calibration.json: fitted for features"):
        Calibration.read(path)
