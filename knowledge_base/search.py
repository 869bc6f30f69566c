"""Hybrid search: dense, lexical and exact channels fused into ONE calibrated score per hit.

The score is meant to be read on its own, not only as a rank: below `NO_ANSWER_THRESHOLD` the
bot should say it has no good answer. It is built from channel scores that do not depend on the
other items (a cosine, a BM25 score divided by the most the query's words could score), plus
fixed evidence from codes and products:
- a known code in the query that the item shows: bonus; a known code the item does not show
  while it shows others: penalty (the customer told us which alarm it is);
- a code-shaped string nobody knows (`E15` where codes are `E01`..`E09`): penalty for items
  with codes, and the query as a whole is less answerable;
- a product named in the query that the item is about: bonus; items only about other products:
  penalty.
Reciprocal-rank fusion of the two ranked channels is added with a small weight: it orders close
calls (it was the best plain ranker on the sample) without moving the score scale much.
Every weight below says how it was chosen; see docs/benchmarks/kb.md for the measurements.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from knowledge_base.calibration import Calibration, HitSignals, shipped_calibration
from knowledge_base.index import KnowledgeIndex
from knowledge_base.text import (
    LANG_EN,
    LANG_ZH,
    SCRIPT_HANT,
    Mentions,
    clean,
    detect_lang,
    detect_script,
    english_words,
    has_chinese,
    query_tokens,
    respelled,
    search_form,
    to_traditional,
)

MAX_QUERY_CHARS = 2000
DENSE_ROWS = 256  # nearest texts fetched; several per item, so ~50+ distinct items
LEXICAL_CANDIDATES = 50
# Dense cosine mapped to 0..1 between these: USE-multilingual cosines of unrelated sentences sit
# near 0.1-0.3 and paraphrases at 0.5-0.8 (measured on the sample and demo query sets).
DENSE_FLOOR, DENSE_CEIL = 0.15, 0.75
# Weights of the mapped cosine and the lexical coverage. Grid over W_DENSE 0.3-0.5 on the sample
# and held-out sets: 0.3 ranked best on both and separated `no_answer` queries best.
W_DENSE, W_LEXICAL = 0.3, 0.6
W_RRF = 1.0  # 2/(60+1) ~ 0.03 for first place in both channels: orders ties, keeps the scale
RRF_K = 60
CODE_MATCH_BONUS = 0.25
CODE_CONFLICT_PENALTY = 0.30
UNKNOWN_CODE_PENALTY = 0.30
PRODUCT_MATCH_BONUS = 0.05
PRODUCT_CONFLICT_PENALTY = 0.20
# Below this fused score the searcher's best hit is not a good answer. Chosen on the sample's
# `no_answer` queries and checked on the demo and held-out sets (docs/benchmarks/kb.md).
NO_ANSWER_THRESHOLD = 0.37

METHODS = ("hybrid", "bm25", "dense", "rrf")


@dataclass(frozen=True)
class Hit:
    """One ranked item: `title` is in the query's language when the item has it."""

    id: str
    type: str  # "fault" | "faq"
    score: float
    title: str
    # Probability that this item answers the query (knowledge_base.calibration); hybrid only.
    confidence: float | None = None
    signals: HitSignals | None = field(default=None, compare=False, repr=False)

    def as_dict(self) -> dict[str, object]:
        """The contract's shape of a hit (`kb search --json`, `GET /v1/kb/search`)."""
        return {"id": self.id, "type": self.type, "score": self.score, "title": self.title}


@dataclass(frozen=True)
class _Scored:
    """Candidate slots with their fused score and, for the hybrid method, its parts."""

    slots: np.ndarray
    score: np.ndarray
    tokens: int = 0
    dense: np.ndarray | None = None
    lexical: np.ndarray | None = None
    evidence: np.ndarray | None = None  # code/product adjustments plus the rank-fusion term


def query_lang(text: str, lang: str | None) -> str:
    """The language answers should follow: the caller's, else detected (`zh` or `en`)."""
    if lang:
        lang = lang.lower()
        return LANG_ZH if lang.startswith("zh") else LANG_EN if lang.startswith("en") else lang
    return detect_lang(text)


def is_searchable(text: str) -> bool:
    """Whether the text has any letter, digit or Chinese character left after cleaning."""
    cleaned = clean(text)
    return has_chinese(cleaned) or any(ch.isalnum() for ch in cleaned)


class Searcher:
    """Ranks a knowledge index's items for a customer's text."""

    def __init__(self, index: KnowledgeIndex, calibration: Calibration | None = None) -> None:
        self.index = index
        self.calibration = calibration or shipped_calibration()
        english_words()  # read once here, not on the first customer's typo

    def search(
        self, text: str, lang: str | None = None, k: int = 5, method: str = "hybrid"
    ) -> list[Hit]:
        """The `k` best items for `text`, best first; [] for text with nothing to search."""
        text = _searched(text)
        if not is_searchable(text) or len(self.index) == 0:
            return []
        scored = self._scored(text, method)
        slots, scores = scored.slots, scored.score
        order = np.argsort(-scores, kind="stable")[:k]
        traditional = detect_script(text) == SCRIPT_HANT and (lang or "zh").lower() == "zh"
        lang = query_lang(text, lang)
        # The confidence weighs Chinese text's higher cosines and lower word coverage: a text
        # with no Chinese in it ("WeldLink", asked in a Chinese conversation) is read as English.
        chinese = lang == LANG_ZH and has_chinese(text)
        # Each hit's lead over the best other candidate: the top one leads the second.
        best = float(scores[order[0]])
        second = float(scores[order[1]]) if len(order) > 1 else 0.0
        hits = []
        for i in order.tolist():
            rival = second if i == order[0] else best
            signals = self._signals(scored, i, rival=rival, zh=chinese)
            hits.append(
                Hit(
                    id=self.index.item_id(int(slots[i])),
                    type=self.index.item_type(int(slots[i])),
                    score=round(float(scores[i]), 4),
                    title=self._title(int(slots[i]), lang, traditional),
                    confidence=self._confidence(signals),
                    signals=signals,
                )
            )
        return hits

    def _signals(self, scored: _Scored, i: int, *, rival: float, zh: bool) -> HitSignals | None:
        """The calibration's view of candidate `i` (None for the uncalibrated methods)."""
        if scored.dense is None or scored.lexical is None or scored.evidence is None:
            return None
        return HitSignals(
            score=float(scored.score[i]),
            dense=float(scored.dense[i]),
            lexical=float(scored.lexical[i]),
            evidence=float(scored.evidence[i]),
            is_faq=self.index.item_type(int(scored.slots[i])) == "faq",
            gap=float(scored.score[i]) - rival,
            zh=zh,
            tokens=scored.tokens,
        )

    def embedded_text(self, text: str) -> str:
        """The string the dense channel embeds when `text` is searched (`search_form`)."""
        return search_form(_searched(text))

    def _confidence(self, signals: HitSignals | None) -> float | None:
        return None if signals is None else round(self.calibration.confidence(signals), 4)

    def _title(self, slot: int, lang: str, traditional: bool) -> str:
        """The title in the query's language; in Traditional script for a Traditional query."""
        title = self.index.title(slot, lang)
        return to_traditional(title) if traditional and lang == LANG_ZH else title

    def _scored(self, text: str, method: str) -> _Scored:
        index = self.index
        vector = index.encoder.encode([search_form(text)])[0]
        dense_slots, dense_sims = index.dense_scores(vector, DENSE_ROWS)
        tokens = query_tokens(respelled(text, index.knows_token))
        lexical, lexical_max = index.lexical_scores(tokens)
        top_lexical = _top(lexical, LEXICAL_CANDIDATES)
        mentions = index.matcher.find(text)
        slots = np.union1d(dense_slots, top_lexical)
        slots = np.union1d(slots, index.slots_with_codes(mentions.codes)).astype(np.int64)
        slots = slots[index.alive[slots]]
        if len(slots) == 0:
            return _Scored(slots, np.zeros(0, np.float32))
        dense = np.full(len(slots), dense_sims.min() if len(dense_sims) else 0.0, np.float32)
        dense[np.searchsorted(slots, dense_slots[np.isin(dense_slots, slots)])] = dense_sims[
            np.isin(dense_slots, slots)
        ]
        lex = lexical[slots] / lexical_max if lexical_max > 0 else np.zeros(len(slots))
        if method == "dense":
            return _Scored(slots, dense)
        if method == "bm25":
            return _Scored(slots, lexical[slots])
        rrf = _rrf(dense) + _rrf(lex)
        if method == "rrf":
            return _Scored(slots, rrf)
        dense_part = np.clip((dense - DENSE_FLOOR) / (DENSE_CEIL - DENSE_FLOOR), 0.0, 1.0)
        evidence = W_RRF * rrf + self._evidence(slots, mentions)
        score = np.clip(W_DENSE * dense_part + W_LEXICAL * lex + evidence, 0.0, 1.0)
        return _Scored(slots, score, len(tokens), dense, lex, evidence)

    def _evidence(self, slots: np.ndarray, mentions: Mentions) -> np.ndarray:
        """Bonuses and penalties from the codes and products the query names."""
        index = self.index
        adjust = np.zeros(len(slots), np.float32)
        code_numbers = {index.code_number[c] for c in mentions.codes if c in index.code_number}
        product_numbers = {
            index.product_number[p] for p in mentions.products if p in index.product_number
        }
        has_codes, code_match = index.codes.matches(slots, code_numbers)
        if code_numbers:
            adjust[code_match] += CODE_MATCH_BONUS
            adjust[has_codes & ~code_match] -= CODE_CONFLICT_PENALTY
        elif mentions.unknown_codes:
            adjust[has_codes] -= UNKNOWN_CODE_PENALTY
        if product_numbers:
            has_products, product_match = index.products.matches(slots, product_numbers)
            adjust[product_match] += PRODUCT_MATCH_BONUS
            adjust[has_products & ~product_match] -= PRODUCT_CONFLICT_PENALTY
        if mentions.unknown_codes and not code_numbers:
            adjust -= UNKNOWN_CODE_PENALTY / 2
        return adjust


def _searched(text: str) -> str:
    """The text a search reads: cleaned, and cut at MAX_QUERY_CHARS."""
    return clean(text)[:MAX_QUERY_CHARS]


def _top(scores: np.ndarray, n: int) -> np.ndarray:
    """Positions of the `n` highest positive scores.

    Only the items sharing a word with the query score above zero, a small part of a large
    KB: partitioning those alone, not every slot, saves ~7 ms a query at a million items.
    """
    positive = np.flatnonzero(scores > 0)
    if len(positive) <= n:
        return positive
    return positive[np.argpartition(-scores[positive], n)[:n]]


def _rrf(values: np.ndarray) -> np.ndarray:
    """Reciprocal-rank fusion term of each value's rank (1-based) among `values`."""
    ranks = np.empty(len(values), np.int64)
    ranks[np.argsort(-values, kind="stable")] = np.arange(1, len(values) + 1)
    return 1.0 / (RRF_K + ranks)


# --- evaluation on a query set ----------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    """One line of a query set: `expect` is answer, no_answer, human or ticket."""

    text: str
    lang: str
    expect: str
    id: str | None = None


def read_queries(path: Path) -> list[Query]:
    """A JSONL query set; a bad line is a ValueError naming the file and line."""
    queries: list[Query] = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the query set ({exc.strerror})") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            queries.append(
                Query(
                    str(data["text"]),
                    str(data.get("lang", "")),
                    str(data["expect"]),
                    data.get("id"),
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{number}: not a query line ({exc})") from None
    return queries


@dataclass(frozen=True)
class EvalResult:
    """hit@1 of `answer` queries and the no-answer behaviour at the threshold."""

    method: str
    n_answer: int
    hit_at_1: float
    hit_at_1_zh: float | None
    hit_at_1_en: float | None
    hit_at_5: float
    n_no_answer: int
    threshold: float | None
    no_answer_rate: float | None  # no_answer queries whose best score is below the threshold
    false_no_answer_rate: float | None  # answer queries whose best score is below it

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def evaluate(index: KnowledgeIndex, queries: list[Query], method: str = "hybrid") -> EvalResult:
    """Score a query set; threshold rates only for the hybrid score (the calibrated one)."""
    searcher = Searcher(index)
    hits_by_lang: dict[str, list[bool]] = {}
    top5: list[bool] = []
    answer_scores: list[float] = []
    no_answer_scores: list[float] = []
    for query in queries:
        hits = searcher.search(query.text, lang=query.lang or None, k=5, method=method)
        best = hits[0].score if hits else 0.0
        if query.expect == "answer":
            lang = query_lang(query.text, query.lang or None)
            hits_by_lang.setdefault(lang, []).append(bool(hits) and hits[0].id == query.id)
            top5.append(any(hit.id == query.id for hit in hits))
            answer_scores.append(best)
        elif query.expect == "no_answer":
            no_answer_scores.append(best)
    calibrated = method == "hybrid"
    every = [ok for oks in hits_by_lang.values() for ok in oks]
    return EvalResult(
        method=method,
        n_answer=len(every),
        hit_at_1=_share(every) or 0.0,
        hit_at_1_zh=_share(hits_by_lang.get(LANG_ZH, [])),
        hit_at_1_en=_share(hits_by_lang.get(LANG_EN, [])),
        hit_at_5=_share(top5) or 0.0,
        n_no_answer=len(no_answer_scores),
        threshold=NO_ANSWER_THRESHOLD if calibrated else None,
        no_answer_rate=_share([s < NO_ANSWER_THRESHOLD for s in no_answer_scores])
        if calibrated
        else None,
        false_no_answer_rate=_share([s < NO_ANSWER_THRESHOLD for s in answer_scores])
        if calibrated
        else None,
    )


def _share(flags: list[bool]) -> float | None:
    return round(sum(flags) / len(flags), 4) if flags else None
