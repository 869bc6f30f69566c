"""Featurizers: dense sentence embeddings and sparse word / character n-gram TF-IDF.

Each featurizer turns documents into a sparse matrix block; the pipeline concatenates the blocks
(scaled by each featurizer's `weight`) into one feature matrix for the intent classifier.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from bot.nlu.text import Token


@dataclass(frozen=True)
class Doc:
    """A text with its folded form and tokens, computed once per pipeline run."""

    text: str
    folded: str
    tokens: tuple[Token, ...]


def _identity(tokens: list[str]) -> list[str]:
    return tokens


class Featurizer:
    """Base: fitted on the training documents, then maps documents to a feature block."""

    name = "Featurizer"

    def __init__(self, weight: float = 1.0) -> None:
        self.weight = float(weight)

    def fit(self, docs: Sequence[Doc]) -> None:
        """Nothing to fit by default."""

    def transform(self, docs: Sequence[Doc]) -> sp.csr_matrix:
        raise NotImplementedError


class SentenceEmbeddingFeaturizer(Featurizer):
    """Sentence embeddings from `knowledge_base.encoders.load_encoder(model)` (USE by default)."""

    name = "SentenceEmbeddingFeaturizer"
    # What is embedded: the text as written, the same string the KB search embeds, so that one
    # message is embedded once (the encoder caches it). Models saved before kept "folded".
    source = "folded"

    def __init__(self, model: str | None = None, weight: float = 1.0) -> None:
        super().__init__(weight)
        self.model = model
        self.source = "text"

    def transform(self, docs: Sequence[Doc]) -> sp.csr_matrix:
        from knowledge_base.encoders import load_encoder

        texts = [doc.text if self.source == "text" else doc.folded for doc in docs]
        vectors = load_encoder(self.model).encode(texts)
        return sp.csr_matrix(np.asarray(vectors, dtype=np.float64))


class WordTfidfFeaturizer(Featurizer):
    """TF-IDF over token n-grams (jieba words for Chinese, word tokens otherwise)."""

    name = "WordTfidfFeaturizer"

    def __init__(self, ngram_range: Sequence[int] = (1, 2), min_df: int = 1, weight: float = 1.0):
        super().__init__(weight)
        self.ngram_range = (int(ngram_range[0]), int(ngram_range[1]))
        self.vectorizer = TfidfVectorizer(
            analyzer=_identity, sublinear_tf=True, min_df=min_df, dtype=np.float64
        )

    def _grams(self, doc: Doc) -> list[str]:
        words = [token.text for token in doc.tokens]
        low, high = self.ngram_range
        return [
            " ".join(words[i : i + n])
            for n in range(low, high + 1)
            for i in range(len(words) - n + 1)
        ]

    def fit(self, docs: Sequence[Doc]) -> None:
        self.vectorizer.fit([self._grams(doc) for doc in docs])

    def transform(self, docs: Sequence[Doc]) -> sp.csr_matrix:
        return self.vectorizer.transform([self._grams(doc) for doc in docs])


class CharTfidfFeaturizer(Featurizer):
    """TF-IDF over character n-grams inside word boundaries: robust to typos and odd codes."""

    name = "CharTfidfFeaturizer"

    def __init__(self, ngram_range: Sequence[int] = (1, 4), min_df: int = 2, weight: float = 1.0):
        super().__init__(weight)
        self.vectorizer = TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=(int(ngram_range[0]), int(ngram_range[1])),
            sublinear_tf=True,
            min_df=min_df,
            dtype=np.float64,
        )

    def fit(self, docs: Sequence[Doc]) -> None:
        texts = [doc.folded for doc in docs]
        try:
            self.vectorizer.fit(texts)
        except ValueError:  # every n-gram below min_df (tiny data): keep them all
            self.vectorizer.set_params(min_df=1)
            self.vectorizer.fit(texts)

    def transform(self, docs: Sequence[Doc]) -> sp.csr_matrix:
        return self.vectorizer.transform([doc.folded for doc in docs])


FEATURIZERS: dict[str, Any] = {
    cls.name: cls for cls in (SentenceEmbeddingFeaturizer, WordTfidfFeaturizer, CharTfidfFeaturizer)
}
