"""Intent classification with out-of-scope detection by class and by confidence threshold.

The classifier is a multinomial logistic regression over the concatenated features, so its
probabilities are usable as confidences. The rejection threshold is fitted on the training data
only: out-of-fold probabilities from a k-fold cross-validation stand in for unseen messages.
"""

from __future__ import annotations

import warnings
from collections import Counter

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from bot.nlu.errors import PipelineError, TrainingDataError

OUT_OF_SCOPE = "out_of_scope"


def _fit_logistic(x: sp.csr_matrix, y: np.ndarray, c: float, max_iter: int) -> LogisticRegression:
    model = LogisticRegression(C=c, max_iter=max_iter, tol=1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x, y)
    return model


def _fold_probabilities(
    x: sp.csr_matrix, y: np.ndarray, train: np.ndarray, test: np.ndarray, c: float, max_iter: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    model = _fit_logistic(x[train], y[train], c, max_iter)
    return test, model.classes_, model.predict_proba(x[test])


class LogisticRegressionIntentClassifier:
    """Logistic regression; rejects to `oos_intent` below a confidence threshold.

    threshold: a number, or "auto" to fit it by cross-validation on the training data: the
    highest threshold whose rejections cost at most `max_accuracy_loss` of the in-scope accuracy
    of the out-of-fold predictions (capped at `max_threshold`). Out-of-scope examples in the
    training data additionally teach an `oos_intent` class.
    """

    name = "LogisticRegressionIntentClassifier"

    def __init__(
        self,
        C: float = 10.0,  # noqa: N803 - scikit-learn's name for the regularization strength
        max_iter: int = 300,
        threshold: float | str = "auto",
        cv_folds: int = 3,
        max_accuracy_loss: float = 0.01,
        max_threshold: float = 0.6,
        oos_intent: str = OUT_OF_SCOPE,
        n_jobs: int = 2,
    ) -> None:
        if threshold != "auto" and not isinstance(threshold, int | float):
            raise PipelineError(f"threshold must be a number or 'auto', got {threshold!r}")
        self.C = float(C)
        self.max_iter = int(max_iter)
        self.threshold = threshold
        self.cv_folds = int(cv_folds)
        self.max_accuracy_loss = float(max_accuracy_loss)
        self.max_threshold = float(max_threshold)
        self.oos_intent = oos_intent
        self.n_jobs = int(n_jobs)
        self.model: LogisticRegression | None = None
        self.threshold_: float = 0.0

    def fit(self, x: sp.csr_matrix, labels: list[str]) -> None:
        """Fit the model on all data and the rejection threshold on out-of-fold predictions."""
        y = np.asarray(labels)
        if len(set(labels)) < 2:
            raise TrainingDataError("intent classification needs at least two intents")
        self.model = _fit_logistic(x, y, self.C, self.max_iter)
        if self.threshold == "auto":
            self.threshold_ = self._fitted_threshold(x, y)
        else:
            self.threshold_ = float(self.threshold)

    def _out_of_fold(self, x: sp.csr_matrix, y: np.ndarray) -> np.ndarray | None:
        """Out-of-fold probabilities in the final model's class order; None if data is too small."""
        folds = min(self.cv_folds, max(Counter(y.tolist()).values()))
        if folds < 2:
            return None
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # classes smaller than the fold count
            splits = list(splitter.split(np.zeros(len(y)), y))
        results = Parallel(n_jobs=min(self.n_jobs, folds), prefer="threads")(
            delayed(_fold_probabilities)(x, y, train, test, self.C, self.max_iter)
            for train, test in splits
        )
        classes = list(self.model.classes_)
        probabilities = np.zeros((len(y), len(classes)))
        for test, fold_classes, fold_probabilities in results:
            columns = [classes.index(c) for c in fold_classes]
            probabilities[np.ix_(test, columns)] = fold_probabilities
        return probabilities

    def _fitted_threshold(self, x: sp.csr_matrix, y: np.ndarray) -> float:
        """The highest threshold costing at most `max_accuracy_loss` of out-of-fold accuracy."""
        probabilities = self._out_of_fold(x, y)
        if probabilities is None:
            return 0.0
        predicted = self.model.classes_[probabilities.argmax(axis=1)]
        confidence = probabilities.max(axis=1)
        in_scope = y != self.oos_intent
        if not in_scope.any():
            return 0.0
        correct = (predicted == y)[in_scope]
        confidence = confidence[in_scope]
        floor = correct.mean() - self.max_accuracy_loss
        best = 0.0
        for threshold in np.arange(0.0, self.max_threshold + 1e-9, 0.01):
            if (correct & (confidence >= threshold)).mean() < floor:
                break
            best = float(round(threshold, 2))
        return best

    def rank(self, x: sp.csr_matrix) -> list[list[tuple[str, float]]]:
        """Per row, every intent with its probability, best first (before rejection)."""
        if self.model is None:
            raise PipelineError("the intent classifier is not trained")
        probabilities = self.model.predict_proba(x)
        classes = self.model.classes_
        order = np.argsort(-probabilities, axis=1)
        return [
            [(str(classes[j]), float(row[j])) for j in idx]
            for row, idx in zip(probabilities, order, strict=True)
        ]

    def decide(self, ranking: list[tuple[str, float]]) -> tuple[str, float]:
        """The intent to report: the best one, or `oos_intent` when below the threshold."""
        name, confidence = ranking[0]
        if confidence < self.threshold_ and name != self.oos_intent:
            return self.oos_intent, 1.0 - confidence
        return name, confidence


CLASSIFIERS = {LogisticRegressionIntentClassifier.name: LogisticRegressionIntentClassifier}
