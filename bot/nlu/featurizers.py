"""Featurizers: dense sentence embeddings and sparse word / character n-gram TF-IDF.

Each featurizer turns documents into a sparse matrix block; the pipeline concatenates the blocks
(scaled by each featurizer's `weight`) into one feature matrix for the intent classifier. For one
message, `row` gives the same block row as (columns, values) with plain numpy: scikit-learn's and
SciPy's per-call checks and matrix construction cost many times the arithmetic of a short text.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from bot.nlu.text import Token

if TYPE_CHECKING:
    from knowledge_base.encoders import Encoder


@dataclass(frozen=True)
class Doc:
    """A text with its folded form and tokens, computed once per pipeline run."""

    text: str
    folded: str
    tokens: tuple[Token, ...]


def _identity(tokens: list[str]) -> list[str]:
    return tokens


Row = tuple[np.ndarray, np.ndarray]  # one document's block: columns (ascending), values


class Featurizer(ABC):
    """Base: fitted on the training documents, then maps documents to a feature block."""

    name = "Featurizer"

    def __init__(self, weight: float = 1.0) -> None:
        self.weight = float(weight)

    def fit(self, docs: Sequence[Doc]) -> None:  # noqa: B027 - an optional step, not abstract
        """Nothing to fit by default."""

    @abstractmethod
    def transform(self, docs: Sequence[Doc]) -> sp.csr_matrix:
        """The documents' feature block, one row each."""

    @property
    @abstractmethod
    def width(self) -> int:
        """The block's number of columns."""

    @abstractmethod
    def row(self, doc: Doc) -> Row:
        """`transform([doc])`'s nonzero entries (unweighted), the same numbers."""


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
        vectors = self.encoder().encode([self.embedded_text(doc) for doc in docs])
        return sp.csr_matrix(np.asarray(vectors, dtype=np.float64))

    def encoder(self) -> Encoder:
        """The encoder this featurizer embeds with (one instance per process and model)."""
        from knowledge_base.encoders import load_encoder

        return load_encoder(self.model)

    def embedded_text(self, doc: Doc) -> str:
        """The string this featurizer embeds for `doc`."""
        return doc.text if self.source == "text" else doc.folded

    @property
    def width(self) -> int:
        from knowledge_base.encoders import load_encoder

        return load_encoder(self.model).dim

    def row(self, doc: Doc) -> Row:
        text = self.embedded_text(doc)
        vector = np.asarray(self.encoder().encode([text])[0], dtype=np.float64)
        columns = np.flatnonzero(vector)  # a sparse block keeps no zeros
        return columns, vector[columns]


class _Tfidf(Featurizer):
    """A fitted `TfidfVectorizer` (sublinear tf, idf, L2 norm) block; `row` repeats its
    transform for one document."""

    vectorizer: TfidfVectorizer

    @abstractmethod
    def _features(self, doc: Doc) -> list[str]:
        """The document's terms as the vectorizer's analyzer reads them."""

    @property
    def width(self) -> int:
        return len(self.vectorizer.vocabulary_)

    def row(self, doc: Doc) -> Row:
        vocabulary = self.vectorizer.vocabulary_
        counts: dict[int, int] = {}
        for feature in self._features(doc):
            column = vocabulary.get(feature)
            if column is not None:
                counts[column] = counts.get(column, 0) + 1
        columns = np.array(sorted(counts), dtype=np.int64)
        values = np.array([counts[c] for c in columns.tolist()], dtype=np.float64)
        np.log(values, out=values)  # sublinear_tf, as both blocks are built
        values += 1.0
        values *= self.vectorizer.idf_[columns]
        if len(values):  # L2, the squares summed in column order as sklearn does
            values /= np.sqrt(np.cumsum(values * values)[-1])
        return columns, values


class WordTfidfFeaturizer(_Tfidf):
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

    def _features(self, doc: Doc) -> list[str]:
        return self._grams(doc)


class CharTfidfFeaturizer(_Tfidf):
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

    def _features(self, doc: Doc) -> list[str]:
        analyze: Callable[[str], list[str]] = self.vectorizer.build_analyzer()
        return analyze(doc.folded)


FEATURIZERS: dict[str, Any] = {
    cls.name: cls for cls in (SentenceEmbeddingFeaturizer, WordTfidfFeaturizer, CharTfidfFeaturizer)
}
