"""Fit the answer-confidence model (knowledge_base/calibration.py) on labelled query sets.

Every `answer` and `no_answer` query is searched; the top hit's signals are the inputs and
"the top hit is the labelled item" is the target. The answer threshold is the lowest confidence
at which the pooled training sets keep wrong answers at or under `--max-wrong` of all answers.
The held-out set (bench/data/holdout) is never passed here: it measures the result.

    python bench/fit_calibration.py            # fits on the sample, demo and dev2 sets
    python bench/fit_calibration.py --dry-run  # prints the fit without writing it

It also prints, for each set, the rates of a model fitted on the other sets only: what the fit
does on a knowledge base it has not seen.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

from knowledge_base.calibration import CALIBRATION_FILE, FEATURES, Calibration, features
from knowledge_base.encoders import load_encoder
from knowledge_base.loader import read_knowledge_base
from knowledge_base.search import Searcher, read_queries
from knowledge_base.service import sync_index

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SETS = {
    "shared sample": (
        ROOT / "bench/data/sample/kb-sample.yaml",
        ROOT / "bench/data/sample/dev-queries.jsonl",
    ),
    "demo": (ROOT / "knowledge_base/demo", ROOT / "bench/data/demo-queries.jsonl"),
    "dev2": (ROOT / "bench/data/dev2/kb.yaml", ROOT / "bench/data/dev2/queries.jsonl"),
}
# Fitting needs hits before a calibration exists: any fixed one will do, it is not used.
UNFITTED = Calibration(coefficients=(0.0,) * len(FEATURES), intercept=0.0, answer_threshold=0.5)


def labelled_signals(kb: Path, queries: Path, work: Path) -> tuple[np.ndarray, np.ndarray, int]:
    """Inputs and targets of one query set (one row per answerable or uncovered query), and how
    many of its queries are answerable."""
    index, _ = sync_index(read_knowledge_base(kb), work, load_encoder(None))
    searcher = Searcher(index, UNFITTED)
    labelled = read_queries(queries)
    rows, targets = [], []
    for query in labelled:
        if query.expect not in ("answer", "no_answer"):
            continue
        hits = searcher.search(query.text, lang=query.lang or None, k=5)
        if not hits or hits[0].signals is None:
            continue
        rows.append(features(hits[0].signals))
        targets.append(query.expect == "answer" and hits[0].id == query.id)
    answerable = sum(query.expect == "answer" for query in labelled)
    return np.array(rows), np.array(targets, dtype=int), answerable


def rates(confidence: np.ndarray, right: np.ndarray, answerable: int, threshold: float) -> dict:
    answered = confidence >= threshold
    n = int(answered.sum())
    return {
        "answered_right": round(float((answered & (right == 1)).sum()) / max(answerable, 1), 3),
        "wrong_of_answers": round(float((answered & (right == 0)).sum()) / max(n, 1), 3),
    }


def fit(x: np.ndarray, y: np.ndarray, c: float, max_wrong: float) -> tuple[Any, float]:
    """The model, and the lowest threshold keeping wrong answers <= `max_wrong` on (x, y)."""
    model = LogisticRegression(C=c, max_iter=2000).fit(x, y)
    confidence = model.predict_proba(x)[:, 1]
    for threshold in np.arange(0.30, 0.96, 0.01):
        answered = confidence >= threshold
        if answered.any() and (answered & (y == 0)).sum() / answered.sum() <= max_wrong:
            return model, round(float(threshold), 2)
    return model, 0.95


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-wrong", type=float, default=0.02)
    parser.add_argument("--c", type=float, default=1.0, help="inverse regularization strength")
    parser.add_argument("--out", type=Path, default=CALIBRATION_FILE)
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args()

    sets: dict[str, tuple[np.ndarray, np.ndarray, int]] = {}
    with tempfile.TemporaryDirectory(prefix="aftersales-fit-") as tmp:
        for number, (name, (kb, queries)) in enumerate(DEFAULT_SETS.items()):
            sets[name] = labelled_signals(kb, queries, Path(tmp) / str(number))
    for name, (xs, ys, answerable) in sets.items():
        others = [s for other, s in sets.items() if other != name]
        model, threshold = fit(
            np.vstack([s[0] for s in others]),
            np.concatenate([s[1] for s in others]),
            args.c,
            args.max_wrong,
        )
        unseen = rates(model.predict_proba(xs)[:, 1], ys, answerable, threshold)
        print(f"{name:<16} fitted on the others (threshold {threshold}): {json.dumps(unseen)}")
    x = np.vstack([s[0] for s in sets.values()])
    y = np.concatenate([s[1] for s in sets.values()])
    model, threshold = fit(x, y, args.c, args.max_wrong)
    fitted = {
        "features": list(FEATURES),
        "coefficients": [round(float(c), 5) for c in model.coef_[0]],
        "intercept": round(float(model.intercept_[0]), 5),
        "answer_threshold": threshold,
        "encoder": load_encoder(None).name,
        "fitted_on": {name: int(len(s[1])) for name, s in sets.items()},
        "max_wrong": args.max_wrong,
        "fitted_by": "python bench/fit_calibration.py",
    }
    for name, (xs, ys, answerable) in sets.items():
        fitted_rates = rates(model.predict_proba(xs)[:, 1], ys, answerable, threshold)
        print(f"{name:<16} fitted on all sets: {json.dumps(fitted_rates)}")
    print(json.dumps(fitted, indent=2))
    if not args.dry_run:
        args.out.write_text(json.dumps(fitted, indent=2) + "\n", encoding="utf-8")
        print(f"written to {args.out}")


if __name__ == "__main__":
    main()
