"""Retrieval quality on every KB with a query set: BM25 only, dense only, RRF, and the hybrid.

    python bench/kb_quality.py [--json]

Prints a markdown table (hit@1 overall/zh/en and hit@5 on `answer` queries; for the hybrid,
the share of `no_answer` queries below NO_ANSWER_THRESHOLD and of `answer` queries wrongly
below it). Query vectors are cached across methods (each is embedded once).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from knowledge_base.encoders import load_encoder  # noqa: E402
from knowledge_base.index import KnowledgeIndex, documents, product_aliases  # noqa: E402
from knowledge_base.loader import read_knowledge_base  # noqa: E402
from knowledge_base.search import METHODS, evaluate, read_queries  # noqa: E402

SETS = [
    (
        "sample",
        ROOT / "bench" / "data" / "sample" / "kb-sample.yaml",
        ROOT / "bench" / "data" / "sample" / "dev-queries.jsonl",
    ),
    ("demo", ROOT / "knowledge_base" / "demo", ROOT / "bench" / "data" / "demo-queries.jsonl"),
    (
        "holdout",
        ROOT / "bench" / "data" / "holdout" / "kb.yaml",
        ROOT / "bench" / "data" / "holdout" / "queries.jsonl",
    ),
]


class CachingEncoder:
    """The real encoder with a memory of what it embedded (queries repeat across methods)."""

    def __init__(self) -> None:
        self._inner = load_encoder(None)
        self.name, self.dim = self._inner.name, self._inner.dim
        self._seen: dict[str, np.ndarray] = {}

    def encode(self, texts: list[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._seen]
        if missing:
            self._seen.update(zip(missing, self._inner.encode(missing), strict=True))
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return np.stack([self._seen[t] for t in texts])


def run() -> list[dict[str, object]]:
    encoder = CachingEncoder()
    rows = []
    for name, kb_path, queries_path in SETS:
        if not (kb_path.exists() and queries_path.exists()):
            continue
        kb = read_knowledge_base(kb_path)
        queries = read_queries(queries_path)
        with tempfile.TemporaryDirectory() as tmp:
            index = KnowledgeIndex.open(Path(tmp) / "index", encoder)
            index.sync(documents(kb), product_aliases(kb))
            for method in METHODS:
                rows.append({"set": name, **evaluate(index, queries, method=method).as_dict()})
    return rows


def markdown(rows: list[dict[str, object]]) -> str:
    def cell(value: object) -> str:
        return "–" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)

    keys = [
        "set",
        "method",
        "n_answer",
        "hit_at_1",
        "hit_at_1_zh",
        "hit_at_1_en",
        "hit_at_5",
        "n_no_answer",
        "no_answer_rate",
        "false_no_answer_rate",
    ]
    lines = ["| " + " | ".join(keys) + " |", "|" + " --- |" * len(keys)]
    lines += ["| " + " | ".join(cell(row[k]) for k in keys) + " |" for row in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = run()
    print(json.dumps(rows, indent=2) if args.json else markdown(rows))


if __name__ == "__main__":
    main()
