"""Intent evaluation on a labelled test set: accuracy, macro-F1, out-of-scope recall, confusions.

Examples labelled `out_of_scope` count toward out-of-scope recall; in-scope accuracy is the
accuracy over the other examples, where predicting out-of-scope is an error.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from sklearn.metrics import f1_score, precision_recall_fscore_support

from bot.nlu.classifiers import OUT_OF_SCOPE
from bot.nlu.errors import TrainingDataError
from bot.nlu.interpreter import Interpreter
from bot.nlu.training_data import TrainingData


@dataclass
class IntentScore:
    """Precision, recall and F1 of one intent, with its number of test examples."""

    intent: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass
class EvaluationReport:
    """The scores of one evaluation run (`to_dict` is the `--json` output)."""

    intent_accuracy: float
    macro_f1: float
    oos_recall: float | None
    in_scope_accuracy: float | None
    n_test: int
    n_oos: int
    threshold: float
    per_intent: list[IntentScore] = field(default_factory=list)
    confusions: list[tuple[str, str, int]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        data = asdict(self)
        data["confusions"] = [
            {"true": t, "predicted": p, "count": n} for t, p, n in self.confusions
        ]
        return data


def _ratio(hits: int, total: int) -> float | None:
    return hits / total if total else None


def score(
    truth: list[str], predicted: list[str], oos_intent: str = OUT_OF_SCOPE, top_confusions: int = 10
) -> EvaluationReport:
    """Scores of predicted against true intent labels."""
    if not truth:
        raise TrainingDataError("the test data has no labelled examples")
    labels = sorted(set(truth))
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predicted, labels=labels, zero_division=0
    )
    pairs = list(zip(truth, predicted, strict=True))
    oos_pairs = [(t, p) for t, p in pairs if t == oos_intent]
    in_pairs = [(t, p) for t, p in pairs if t != oos_intent]
    confusions = Counter((t, p) for t, p in pairs if t != p).most_common(top_confusions)
    return EvaluationReport(
        intent_accuracy=sum(t == p for t, p in pairs) / len(pairs),
        macro_f1=float(f1_score(truth, predicted, labels=labels, average="macro", zero_division=0)),
        oos_recall=_ratio(sum(p == oos_intent for _, p in oos_pairs), len(oos_pairs)),
        in_scope_accuracy=_ratio(sum(t == p for t, p in in_pairs), len(in_pairs)),
        n_test=len(pairs),
        n_oos=len(oos_pairs),
        threshold=0.0,
        per_intent=[
            IntentScore(label, float(p), float(r), float(f), int(s))
            for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
        ],
        confusions=[(t, p, n) for (t, p), n in confusions],
    )


def evaluate(
    interpreter: Interpreter, test: TrainingData, oos_intent: str = OUT_OF_SCOPE
) -> EvaluationReport:
    """Scores of the interpreter's intents on the labelled messages of `test`."""
    labelled = [(m.text, m.intent) for m in test.messages if m.intent]
    started = time.perf_counter()
    results = interpreter.intents([text for text, _ in labelled])
    report = score(
        [intent for _, intent in labelled],
        [str(intent["name"]) for intent, _ in results],
        oos_intent,
    )
    report.seconds["predict"] = round(time.perf_counter() - started, 2)
    if interpreter.classifier is not None:
        report.threshold = interpreter.classifier.threshold_
    return report
