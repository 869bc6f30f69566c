"""Scale benchmark of the knowledge index: build time and peak memory, on-disk load, serving
memory of one and of two processes, and search latency.

    python bench/kb_scale.py --sizes 1000 10000 100000 1000000 [--out docs/benchmarks/kb-scale.json]

Synthetic items are made by recombining a pool of REAL texts (every fault/FAQ text of the sample,
demo and held-out KBs): item i gets TEXTS_PER_ITEM texts, each two pool sentences joined, and its
vectors are the normalized sums of the pool sentences' real USE embeddings (`PoolEncoder`), so a
million items do not take hours to embed. Queries are real customer messages, embedded for real
at search time (so latency includes the query embedding). Each size is built in one process and
then measured in a FRESH process that loads the index from disk (no re-embedding), so RSS is
what a serving process holds. Real embedding throughput is measured separately.

The items are a lazy sequence (made on demand from a seed), as `KnowledgeIndex.sync` reads them
by position, so the build's peak RSS is the index's, not the benchmark's. Serving memory: the
index is memory-mapped, so besides RSS (which counts shared file pages in every process) each
serving process reports its PSS (shared pages divided among the processes mapping them);
`two_pss_mb` is the sum of the PSS of two processes serving the same files at once, i.e. what
the host spends on them, against `one_rss_mb` of one process alone.
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
from collections.abc import Sequence
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


class SyntheticDocs(Sequence[ItemDoc]):
    """`size` items recombining pool texts, each made when asked for (by position)."""

    def __init__(self, pool: list[str], size: int, seed: int = 0) -> None:
        self.pool = pool
        rng = np.random.default_rng(seed)
        self.picks = rng.integers(0, len(pool), size=(size, TEXTS_PER_ITEM, 2), dtype=np.int32)

    def __len__(self) -> int:
        return len(self.picks)

    def __getitem__(self, i: int) -> ItemDoc:  # type: ignore[override]
        if not 0 <= i < len(self.picks):
            raise IndexError(i)
        pool = self.pool
        texts = tuple(SEPARATOR.join((pool[a], pool[b])) for a, b in self.picks[i].tolist())
        return ItemDoc(
            id=f"F-{i:07d}",
            type="fault" if i % 5 else "faq",
            titles={"zh": texts[0][:40], "en": texts[1][:40]},
            texts=texts,
            lexical="\n".join(texts),
            codes=(f"E{i % 997}",),
            products=(f"P-{i % 50}",),
        )


def memory_mb(pid: int | str = "self") -> dict[str, float]:
    """RSS and PSS (shared pages divided among the processes mapping them) of a process."""
    values = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("Rss", "Pss"):
            values[key.lower() + "_mb"] = round(int(rest.split()[0]) / 1024)
    return values


def build(size: int, index_dir: Path) -> dict[str, float]:
    pool = pool_texts()
    encoder = PoolEncoder(pool)
    docs = SyntheticDocs(pool, size)
    base_rss = memory_mb()["rss_mb"]
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
        "build_base_rss_mb": base_rss,  # the encoder and the pool, before the build
        "build_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "build_load_average": round(os.getloadavg()[0], 1),
    }


def _queries() -> list[str]:
    return [q.text for path in QUERY_SETS if path.exists() for q in read_queries(path)][:300]


def measure(index_dir: Path) -> dict[str, float]:
    encoder = PoolEncoder(pool_texts())
    started = time.perf_counter()
    index = KnowledgeIndex.open(index_dir, encoder)
    load_seconds = time.perf_counter() - started
    searcher = Searcher(index)
    texts = _queries()
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
        "mapped": index.mapped,
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


def serve(index_dir: Path) -> None:
    """Open the index and answer the query set once (touching what serving touches), say so,
    then hold it until stdin closes: the parent reads this process's memory meanwhile."""
    index = KnowledgeIndex.open(index_dir, load_encoder(None))
    searcher = Searcher(index)
    for text in _queries():
        searcher.search(text, k=5)
    print("ready", flush=True)
    sys.stdin.read()


def serve_together(index_dir: Path, env: dict[str, str], count: int) -> dict[str, float]:
    """Memory of `count` processes serving the same index files at the same time."""
    command = [sys.executable, __file__, "--phase", "serve", "--dir", str(index_dir)]
    procs = [
        subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        for _ in range(count)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            while proc.stdout.readline().strip() != "ready":
                if proc.poll() is not None:
                    raise RuntimeError("a serving process ended early")
        memory = [memory_mb(proc.pid) for proc in procs]
    finally:
        for proc in procs:
            if proc.stdin:
                proc.stdin.close()
            proc.wait(timeout=60)
    return {
        "rss_mb": sum(m["rss_mb"] for m in memory),
        "pss_mb": sum(m["pss_mb"] for m in memory),
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
    parser.add_argument("--phase", choices=["build", "measure", "serve"], default=None)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    if args.phase == "build":
        print(json.dumps(build(args.sizes[0], args.dir)))
        return
    if args.phase == "measure":
        print(json.dumps(measure(args.dir)))
        return
    if args.phase == "serve":
        serve(args.dir)
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
            for count, name in ((1, "one"), (2, "two")):
                memory = serve_together(Path(tmp) / "index", single, count)
                row.update({f"{name}_{key}": value for key, value in memory.items()})
            row["two_pss_over_one_rss"] = round(row["two_pss_mb"] / row["one_rss_mb"], 2)
        results["sizes"].append(row)
        print(json.dumps(row), flush=True)
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
