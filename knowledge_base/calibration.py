"""Answer confidence: the probability that a hit is the right answer to the query.

The fused search score orders items well, but one threshold on it cannot tell a paraphrase from
a question the knowledge base does not cover: Chinese queries get higher cosines and lower
lexical coverage than English ones, short queries reach full lexical coverage on one generic
word ("how much does the X cost" → a warranty FAQ), and a top hit barely ahead of the next one
is often the wrong one. A logistic model over those signals turns them into one number the bot
can compare with a fixed bar.

The model is fitted by `bench/fit_calibration.py` on labelled query sets (never the held-out
set) and shipped as `calibration.json`; evaluating it here is a dot product.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

CALIBRATION_FILE = Path(__file__).with_name("calibration.json")
# Query length enters as log(1 + tokens), capped at what the training queries span: a very long
# text (a call transcript) must not look certain just for being long.
MAX_TOKENS = 40

FEATURES = ("score", "dense", "lexical", "zh", "zh_lexical", "evidence", "faq", "gap", "length")


@dataclass(frozen=True)
class HitSignals:
    """What the search knew about one hit: the fused score and the channels it came from."""

    score: float
    dense: float  # raw cosine of the best-matching text of the item
    lexical: float  # BM25 over the most the query's words could score, 0..1
    evidence: float  # code/product bonuses and penalties, plus the rank-fusion term
    is_faq: bool
    gap: float  # score minus the best score of any other hit (negative below the top)
    zh: bool  # the query is Chinese
    tokens: int  # the query's lexical tokens


def features(signals: HitSignals) -> np.ndarray:
    """The model's inputs, in the order of FEATURES."""
    zh_flag = 1.0 if signals.zh else 0.0
    return np.array(
        [
            signals.score,
            signals.dense,
            signals.lexical,
            zh_flag,
            zh_flag * signals.lexical,
            signals.evidence,
            1.0 if signals.is_faq else 0.0,
            signals.gap,
            math.log1p(min(max(signals.tokens, 0), MAX_TOKENS)),
        ],
        dtype=np.float64,
    )


@dataclass(frozen=True)
class Calibration:
    """A fitted logistic model and the confidence an answer needs (`answer_threshold`)."""

    coefficients: tuple[float, ...]
    intercept: float
    answer_threshold: float

    def confidence(self, signals: HitSignals) -> float:
        z = float(np.dot(self.coefficients, features(signals)))
        return 1.0 / (1.0 + math.exp(-(z + self.intercept)))

    @classmethod
    def read(cls, path: Path) -> Calibration:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if tuple(data["features"]) != FEATURES:
            raise ValueError(f"{path}: fitted for features {data['features']}, not {FEATURES}")
        return cls(
            coefficients=tuple(float(c) for c in data["coefficients"]),
            intercept=float(data["intercept"]),
            answer_threshold=float(data["answer_threshold"]),
        )


@cache
def shipped_calibration() -> Calibration:
    """The calibration fitted for the default encoder (read once per process)."""
    return Calibration.read(CALIBRATION_FILE)
