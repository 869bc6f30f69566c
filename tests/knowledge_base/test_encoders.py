"""The encoder's query cache: one message's text is embedded once for the NLU and the KB search,
batches bypass the cache, and the cache stays bounded."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from bot.dialogue.embedding import PendingEmbeddings
from bot.dialogue.knowledge import ServiceKnowledge
from bot.nlu.featurizers import Doc, SentenceEmbeddingFeaturizer
from bot.nlu.text import fold
from knowledge_base import encoders
from knowledge_base.encoders import QUERY_TEXTS, CachedEncoder, load_encoder
from knowledge_base.graph import KnowledgeGraph
from knowledge_base.index import KnowledgeIndex, documents, product_aliases
from knowledge_base.search import Searcher
from knowledge_base.service import KnowledgeService
from knowledge_base.text import to_mandarin
from tests.knowledge_base.test_index import small_kb


class Counting:
    """The real encoder, recording every text it is asked to embed."""

    def __init__(self) -> None:
        self._inner = load_encoder(None).inner  # type: ignore[attr-defined]
        self.name = self._inner.name
        self.dim = self._inner.dim
        self.calls: list[list[str]] = []

    def encode(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return self._inner.encode(texts)

    @property
    def texts(self) -> list[str]:
        return [t for call in self.calls for t in call]


def test_a_repeated_query_is_embedded_once() -> None:
    inner = Counting()
    cached = CachedEncoder(inner)
    first = cached.encode(["E07 on my AC-300"])
    first[0, 0] = 42.0  # callers get their own array; the cache is not touched
    again = cached.encode(["E07 on my AC-300", "压力上不去"])
    assert inner.texts == ["E07 on my AC-300", "压力上不去"]
    assert again.shape == (2, cached.dim)
    np.testing.assert_allclose(again[0], inner.encode(["E07 on my AC-300"])[0], atol=1e-6)
    np.testing.assert_allclose(again[1], inner.encode(["压力上不去"])[0], atol=1e-6)


def test_batches_bypass_the_cache_and_the_cache_is_bounded() -> None:
    inner = Counting()
    cached = CachedEncoder(inner, size=3)
    batch = [f"text {i}" for i in range(QUERY_TEXTS + 1)]
    cached.encode(batch)
    cached.encode(batch[:1])
    assert inner.calls == [batch, batch[:1]]  # the batch left nothing behind
    for text in ("a", "b", "c", "d"):
        cached.encode([text])
    inner.calls.clear()
    cached.encode(["a"])  # evicted: the oldest of four in a cache of three
    cached.encode(["d"])
    assert inner.calls == [["a"]]


@dataclass
class Indexed:
    """The small KB indexed with a counting encoder, which `load_encoder` returns (the NLU's)."""

    inner: Counting
    cached: CachedEncoder
    index: KnowledgeIndex

    def service(self) -> KnowledgeService:
        return KnowledgeService(KnowledgeGraph(small_kb()), self.index)


@pytest.fixture
def indexed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Indexed:
    inner = Counting()
    cached = CachedEncoder(inner)
    monkeypatch.setattr(encoders, "load_encoder", lambda spec=None: cached)
    kb = small_kb()
    index = KnowledgeIndex.open(tmp_path / "index", cached)
    index.sync(documents(kb), product_aliases(kb))
    return Indexed(inner, cached, index)


def test_the_nlu_and_the_kb_search_of_one_message_embed_it_once(indexed: Indexed) -> None:
    inner = indexed.inner
    inner.calls.clear()
    text = "My AC-300 Shows E07 and the pressure will not build"
    SentenceEmbeddingFeaturizer().transform([Doc(text, fold(text), ())])
    assert Searcher(indexed.index).search(text, "en")
    assert inner.texts == [text]


def test_a_query_embeds_like_the_same_text_in_a_batch() -> None:
    encoder = load_encoder(None)
    texts = [f"compressor overheating, code A{100 + i}" for i in range(QUERY_TEXTS + 4)]
    batch = encoder.encode(texts)  # several BLAS threads
    one = encoder.encode([texts[3]])  # one BLAS thread
    np.testing.assert_allclose(one[0], batch[3], atol=1e-5)


def test_a_cantonese_message_and_its_mandarin_search_text_take_one_pass(
    indexed: Indexed,
) -> None:
    inner, cached, service = indexed.inner, indexed.cached, indexed.service()
    featurizer = SentenceEmbeddingFeaturizer()
    text = "部AC300報E03，壓力一直上唔去，點算好"
    doc = Doc(text, fold(text), ())
    other_encoder = CachedEncoder(Counting())  # an NLU on another encoder: nothing of it here
    for nlu_encoder, expected in ((other_encoder, []), (cached, [[text, to_mandarin(text)]])):
        cached._vectors.clear()
        inner.calls.clear()
        service.embed_ahead([(nlu_encoder, featurizer.embedded_text(doc))], [text])
        assert inner.calls == expected
    featurizer.transform([doc])
    assert service.search(text, "zh")[0].id == "F-AC-E03"
    assert inner.calls == [[text, to_mandarin(text)]]  # the NLU and the search found it cached


def test_the_readings_waiting_for_their_turn_are_embedded_in_one_pass(indexed: Indexed) -> None:
    inner, knowledge = indexed.inner, ServiceKnowledge(indexed.service())
    featurizer = SentenceEmbeddingFeaturizer()
    pending = PendingEmbeddings()
    messages = ["AC300 shows E03", "部AC300報E03點算", "压力上不去怎么办"]
    for text in messages:
        doc = Doc(text, fold(text), ())
        pending.add([(featurizer.encoder(), featurizer.embedded_text(doc))], text)
    inner.calls.clear()
    pending.embed(knowledge)
    pending.embed(knowledge)  # the queue was emptied: nothing more to embed
    wanted = [*messages, to_mandarin(messages[1])]
    assert len(inner.calls) == 1 and sorted(inner.calls[0]) == sorted(wanted)
    for text in messages:  # each reading then finds its texts cached
        featurizer.transform([Doc(text, fold(text), ())])
        assert knowledge.search(text, "zh", 3)
    assert len(inner.calls) == 1
