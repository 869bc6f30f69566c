"""Intent classification with out-of-scope detection by class and by confidence threshold.

The classifier is a multinomial logistic regression over the concatenated features, so its
probabilities are usable as confidences. The rejection threshold is fitted on the training data
only: a model fitted on a stratified 75 % of it, scoring the other 25 %, stands in for unseen
messages (it trains alongside the final model, so it costs little extra time on two cores).
"""

from __future__ import annotations

import warnings
from collections import Counter

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from bot.nlu.errors import PipelineError, TrainingDataError

OUT_OF_SCOPE = "out_of_scope"


def _fit_logistic(x: sp.csr_matrix, y: np.ndarray, c: float, max_iter: int) -> LogisticRegression:
    model = LogisticRegression(C=c, max_iter=max_iter, tol=1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x, y)
    return model


def _validation_split(y: np.ndarray, fraction: float) -> tuple[np.ndarray, np.ndarray] | None:
    """Stratified (train, validation) row indices, or None when the data is too small to split."""
    rows = np.arange(len(y))
    counts = Counter(y.tolist())
    n_validation = round(fraction * len(y))
    if len(counts) < 2 or n_validation < len(counts) or len(y) - n_validation < len(counts):
        return None
    stratify = y if min(counts.values()) >= 2 else None
    train, validation = train_test_split(
        rows, test_size=n_validation, random_state=0, stratify=stratify
    )
    return np.sort(train), np.sort(validation)


class LogisticRegressionIntentClassifier:
    """Logistic regression; rejects to `oos_intent` below a confidence threshold.

    threshold: a number, or "auto" to fit it on a held-out split of the training data: the
    highest threshold whose rejections cost at most `max_accuracy_loss` of the in-scope accuracy
    of the held-out predictions (capped at `max_threshold`). Out-of-scope examples in the
    training data additionally teach an `oos_intent` class.
    """

    name = "LogisticRegressionIntentClassifier"

    def __init__(
        self,
        C: float = 10.0,  # noqa: N803 - scikit-learn's name for the regularization strength
        max_iter: int = 300,
        threshold: float | str = "auto",
        validation_fraction: float = 0.25,
        max_accuracy_loss: float = 0.005,
        max_threshold: float = 0.6,
        oos_intent: str = OUT_OF_SCOPE,
        n_jobs: int = 2,
    ) -> None:
        if threshold != "auto" and not isinstance(threshold, int | float):
            raise PipelineError(f"threshold must be a number or 'auto', got {threshold!r}")
        self.C = float(C)
        self.max_iter = int(max_iter)
        self.threshold = threshold
        self.validation_fraction = float(validation_fraction)
        self.max_accuracy_loss = float(max_accuracy_loss)
        self.max_threshold = float(max_threshold)
        self.oos_intent = oos_intent
        self.n_jobs = int(n_jobs)
        self.model: LogisticRegression | None = None
        self.threshold_: float = 0.0

    def fit(self, x: sp.csr_matrix, labels: list[str]) -> None:
        """Fit the model on all data and, alongside, the threshold on a held-out split."""
        y = np.asarray(labels)
        if len(set(labels)) < 2:
            raise TrainingDataError("intent classification needs at least two intents")
        split = _validation_split(y, self.validation_fraction) if self.threshold == "auto" else None
        jobs = [np.arange(len(y))] + ([split[0]] if split is not None else [])
        models = Parallel(n_jobs=min(self.n_jobs, len(jobs)), prefer="threads")(
            delayed(_fit_logistic)(x[rows], y[rows], self.C, self.max_iter) for rows in jobs
        )
        self.model = models[0]
        if self.threshold != "auto":
            self.threshold_ = float(self.threshold)
        elif split is None:
            self.threshold_ = 0.0
        else:
            validation = split[1]
            probabilities = models[1].predict_proba(x[validation])
            predicted = models[1].classes_[probabilities.argmax(axis=1)]
            self.threshold_ = self._fitted_threshold(
                y[validation], predicted, probabilities.max(axis=1)
            )

    def _fitted_threshold(
        self, y: np.ndarray, predicted: np.ndarray, confidence: np.ndarray
    ) -> float:
        """The highest threshold costing at most `max_accuracy_loss` of validation accuracy."""
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
        probabilities = self._fitted().predict_proba(x)
        return [self._ranking(row) for row in probabilities]

    def rank_row(self, columns: np.ndarray, values: np.ndarray) -> list[tuple[str, float]]:
        """`rank` of one feature row given as its nonzero (columns, values), ascending columns:
        the same probabilities without scikit-learn's per-call input checks. The scores are
        summed over the columns in order, as SciPy's sparse product does, then softmax."""
        model = self._fitted()
        if model.coef_.shape[0] == 1:  # two intents: sklearn's logistic form, kept as it is
            return self._ranking(model.predict_proba(_one_row(columns, values, model))[0])
        terms = model.coef_[:, columns] * values
        scores = (np.cumsum(terms, axis=1)[:, -1] if len(values) else 0.0) + model.intercept_
        scores -= scores.max()
        np.exp(scores, out=scores)
        scores /= scores.sum()
        return self._ranking(scores)

    def _fitted(self) -> LogisticRegression:
        if self.model is None:
            raise PipelineError("the intent classifier is not trained")
        return self.model

    def _ranking(self, probabilities: np.ndarray) -> list[tuple[str, float]]:
        classes = self._fitted().classes_
        return [(str(classes[j]), float(probabilities[j])) for j in np.argsort(-probabilities)]

    def decide(self, ranking: list[tuple[str, float]]) -> tuple[str, float]:
        """The intent to report: the best one, or `oos_intent` when below the threshold."""
        name, confidence = ranking[0]
        if confidence < self.threshold_ and name != self.oos_intent:
            return self.oos_intent, 1.0 - confidence
        return name, confidence


def _one_row(columns: np.ndarray, values: np.ndarray, model: LogisticRegression) -> sp.csr_matrix:
    shape = (1, model.coef_.shape[1])
    return sp.csr_matrix((values, columns, np.array([0, len(values)])), shape=shape)


CLASSIFIERS = {LogisticRegressionIntentClassifier.name: LogisticRegressionIntentClassifier}
