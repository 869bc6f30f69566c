"""The intent classifier's confidence threshold, fitted on held-out training data only."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from bot.nlu import PipelineError, TrainingDataError
from bot.nlu.classifiers import LogisticRegressionIntentClassifier


def overlapping_classes(n: int = 600, seed: int = 0) -> tuple[sp.csr_matrix, list[str]]:
    """Three noisy, overlapping classes: many held-out predictions are unsure."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, size=n)
    centers = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]])
    points = centers[labels] + rng.normal(scale=0.9, size=(n, 2))
    return sp.csr_matrix(points), [f"intent_{k}" for k in labels]


def accuracy_after_rejection(classifier, x: sp.csr_matrix, labels: list[str]) -> float:
    decided = [classifier.decide(r)[0] for r in classifier.rank(x)]
    return float(np.mean([d == t for d, t in zip(decided, labels, strict=True)]))


def test_auto_threshold_trades_little_accuracy_for_rejections() -> None:
    x, labels = overlapping_classes()
    classifier = LogisticRegressionIntentClassifier(max_accuracy_loss=0.02)
    classifier.fit(x, labels)
    assert 0.34 < classifier.threshold_ <= classifier.max_threshold
    fresh_x, fresh_labels = overlapping_classes(seed=1)
    plain = LogisticRegressionIntentClassifier(threshold=0.0)
    plain.fit(x, labels)
    rejected = sum(classifier.decide(r)[0] == "out_of_scope" for r in classifier.rank(fresh_x))
    assert rejected > 0
    loss = accuracy_after_rejection(plain, fresh_x, fresh_labels) - accuracy_after_rejection(
        classifier, fresh_x, fresh_labels
    )
    assert loss < 0.06  # the budget is 2 points on held-out data; unseen data stays close


def test_fixed_threshold_is_kept() -> None:
    x, labels = overlapping_classes()
    classifier = LogisticRegressionIntentClassifier(threshold=0.5)
    classifier.fit(x, labels)
    assert classifier.threshold_ == 0.5


def test_tiny_data_gets_no_threshold() -> None:
    classifier = LogisticRegressionIntentClassifier()
    classifier.fit(sp.csr_matrix(np.eye(2)), ["a", "b"])
    assert classifier.threshold_ == 0.0


def test_one_intent_is_not_enough() -> None:
    with pytest.raises(TrainingDataError, match="at least two intents"):
        LogisticRegressionIntentClassifier().fit(sp.csr_matrix(np.eye(2)), ["a", "a"])


def test_untrained_classifier_is_a_clear_error() -> None:
    with pytest.raises(PipelineError, match="not trained"):
        LogisticRegressionIntentClassifier().rank(sp.csr_matrix(np.eye(2)))
