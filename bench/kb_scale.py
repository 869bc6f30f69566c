"""Scale benchmark of the knowledge index: build time, on-disk load, RSS and search latency.

    python bench/kb_scale.py --sizes 1000 10000 100000 1000000 [--out docs/benchmarks/kb-scale.json]

Synthetic items are made by recombining a pool of REAL texts (every fault/FAQ text of the sample,
demo and held-out KBs): item i gets TEXTS_PER_ITEM texts, each two pool sentences joined, and its
vectors are the normalized sums of the pool sentences' real USE embeddings (`PoolEncoder`), so a
million items do not take hours to embed. Queries are real customer messages, embedded for real
at search time (so latency includes the query embedding). Each size is built in one process and
then measured in a FRESH process that loads the index from disk (no re-embedding), so RSS is
what a serving process holds. Real embedding throughput is measured separately.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from knowledge_base.encoders import load_encoder  # noqa: E402
from knowledge_base.index import ItemDoc, KnowledgeIndex, documents  # noqa: E402
from knowledge_base.loader import read_knowledge_base  # noqa: E402
from knowledge_base.search import Searcher, read_queries  # noqa: E402

TEXTS_PER_ITEM = 4
SEPARATOR = " / "
KBS = [
    ROOT / "bench" / "data" / "sample" / "kb-sample.yaml",
    ROOT / "knowledge_base" / "demo",
    ROOT / "bench" / "data" / "holdout" / "kb.yaml",
]
QUERY_SETS = [
    ROOT / "bench" / "data" / "sample" / "dev-queries.jsonl",
    ROOT / "bench" / "data" / "holdout" / "queries.jsonl",
    ROOT / "bench" / "data" / "demo-queries.jsonl",
]


def pool_texts() -> list[str]:
    texts: list[str] = []
    for kb in KBS:
        if kb.exists():
            texts += [t for doc in documents(read_knowledge_base(kb)) for t in doc.texts]
    return sorted(set(texts))


class PoolEncoder:
    """Vectors of pool-sentence combinations from the real embeddings of the pool sentences;
    any other text (a query) is embedded by the real encoder."""

    def __init__(self, pool: list[str]) -> None:
        self.real = load_encoder(None)
        self.name, self.dim = self.real.name, self.real.dim
        self.position = {text: i for i, text in enumerate(pool)}
        self.vectors = self.real.encode(pool)
        self.remembered: dict[str, np.ndarray] = {}

    def remember(self, query: str) -> None:
        """Embed a query now (timed by the caller) so that the search after it reuses it."""
        self.remembered[query] = self.real.encode([query])[0]

    def encode(self, texts: list[str]) -> np.ndarray:
        if len(texts) == 1 and texts[0] in self.remembered:
            return self.remembered[texts[0]][None, :]
        parts = [text.split(SEPARATOR) for text in texts]
        if not all(all(p in self.position for p in ps) for ps in parts):
            return self.real.encode(texts)
        out = np.zeros((len(texts), self.dim), np.float32)
        for n, ps in enumerate(parts):
            out[n] = self.vectors[[self.position[p] for p in ps]].sum(axis=0)
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def synthetic_docs(pool: list[str], size: int, seed: int = 0) -> list[ItemDoc]:
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(pool), size=(size, TEXTS_PER_ITEM, 2))
    docs = []
    for i in range(size):
        texts = tuple(SEPARATOR.join((pool[a], pool[b])) for a, b in picks[i])
        docs.append(
            ItemDoc(
                id=f"F-{i:07d}",
                type="fault" if i % 5 else "faq",
                titles={"zh": texts[0][:40], "en": texts[1][:40]},
                texts=texts,
                lexical="\n".join(texts),
                codes=(f"E{i % 997}",),
                products=(f"P-{i % 50}",),
            )
        )
    return docs


def build(size: int, index_dir: Path) -> dict[str, float]:
    pool = pool_texts()
    encoder = PoolEncoder(pool)
    docs = synthetic_docs(pool, size)
    started = time.perf_counter()
    index = KnowledgeIndex.open(index_dir, encoder)
    index.sync(docs, {f"P-{n}": [] for n in range(50)})
    seconds = time.perf_counter() - started
    disk = sum(f.stat().st_size for f in index_dir.rglob("*") if f.is_file())
    return {
        "items": size,
        "build_seconds": round(seconds, 1),
        "items_per_second": round(size / seconds),
        "dense_rows": int(index.dense.ntotal),
        "dense_type": type(__import__("faiss").downcast_index(index.dense)).__name__,
        "disk_mb": round(disk / 2**20, 1),
    }


def measure(index_dir: Path) -> dict[str, float]:
    encoder = PoolEncoder(pool_texts())
    started = time.perf_counter()
    index = KnowledgeIndex.open(index_dir, encoder)
    load_seconds = time.perf_counter() - started
    searcher = Searcher(index)
    texts = [q.text for path in QUERY_SETS if path.exists() for q in read_queries(path)][:300]
    for text in texts[:20]:
        searcher.search(text)  # warm up
    embed_ms, index_ms, cpu_ms = [], [], []
    for text in texts:
        t0, c0 = time.perf_counter(), time.process_time()
        encoder.remember(text)
        t1 = time.perf_counter()
        searcher.search(text, k=5)  # the vector is remembered: this is the index side alone
        embed_ms.append((t1 - t0) * 1000)
        index_ms.append((time.perf_counter() - t1) * 1000)
        cpu_ms.append((time.process_time() - c0) * 1000)
    total_ms = np.add(embed_ms, index_ms)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "load_seconds": round(load_seconds, 1),
        "queries": len(texts),
        "p50_ms": round(float(np.percentile(total_ms, 50)), 1),
        "p99_ms": round(float(np.percentile(total_ms, 99)), 1),
        "embed_p50_ms": round(float(np.percentile(embed_ms, 50)), 1),
        "index_p50_ms": round(float(np.percentile(index_ms, 50)), 1),
        "index_p99_ms": round(float(np.percentile(index_ms, 99)), 1),
        "cpu_p50_ms": round(float(np.percentile(cpu_ms, 50)), 1),
        "load_average": round(os.getloadavg()[0], 1),
        "peak_rss_mb": round(rss),
        "items_loaded": len(index),
    }


def real_embedding_throughput() -> float:
    encoder = load_encoder(None)
    texts = pool_texts()[:1000]
    encoder.encode(texts[:64])
    started = time.perf_counter()
    encoder.encode(texts)
    return round(len(texts) / (time.perf_counter() - started))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--phase", choices=["build", "measure"], default=None)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    if args.phase == "build":
        print(json.dumps(build(args.sizes[0], args.dir)))
        return
    if args.phase == "measure":
        print(json.dumps(measure(args.dir)))
        return
    results = {"real_embedding_texts_per_second": real_embedding_throughput(), "sizes": []}
    # One thread per query, as in a server answering concurrent requests; idle-spinning
    # OpenMP/BLAS pools only add contention on 2 cores.
    single = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    print(json.dumps(results), flush=True)
    for size in args.sizes:
        with tempfile.TemporaryDirectory(prefix="kb-scale-") as tmp:
            row = {}
            for phase in ("build", "measure"):
                out = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--phase",
                        phase,
                        "--sizes",
                        str(size),
                        "--dir",
                        str(Path(tmp) / "index"),
                    ],
                    check=True,
                    capture_output=True,
                    text=True,
                    env=single if phase == "measure" else None,
                )
                row.update(json.loads(out.stdout.strip().splitlines()[-1]))
        results["sizes"].append(row)
        print(json.dumps(row), flush=True)
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
