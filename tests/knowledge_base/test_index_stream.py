"""The streamed build (batches, bounded IVF training sample, chunked BM25) and the memory-mapped
index: same results as building in one go, and mapped files that serve and still update."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import bm25s
import numpy as np
import pytest

import knowledge_base.index as index_module
from knowledge_base.index import (
    BM25_B,
    BM25_K1,
    ItemDoc,
    KnowledgeIndex,
    _Bm25Builder,
    documents,
    product_aliases,
)
from knowledge_base.search import Searcher
from knowledge_base.text import tokenize
from tests.knowledge_base.test_index import (
    SMALL_KB,
    CountingEncoder,
    HashEncoder,
    many_docs,
    small_kb,
)

QUERIES = [
    "AC300 压力上不去",
    "E04 overheating trip",
    "冷干机有金属敲击声",
    "water coming out of the dryer",
    "保修期多久",
]


class LazyDocs(Sequence[ItemDoc]):
    """Documents made on demand by position, as a million-item build passes them."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.reads = 0

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, pos: int) -> ItemDoc:  # type: ignore[override]
        if not 0 <= pos < self.count:
            raise IndexError(pos)
        self.reads += 1
        return many_docs(pos + 1)[pos]


class BatchRecorder(HashEncoder):
    def __init__(self) -> None:
        self.batches: list[int] = []

    def encode(self, texts: list[str]) -> np.ndarray:
        self.batches.append(len(texts))
        return super().encode(texts)


def _mapped_files() -> str:
    return Path("/proc/self/maps").read_text()


def test_chunked_bm25_matches_bm25s() -> None:
    corpus = [tokenize(d.lexical) for d in documents(small_kb())]
    corpus.insert(2, [])  # a free slot: an empty document, as a deleted item leaves
    reference = bm25s.BM25(k1=BM25_K1, b=BM25_B)
    reference.index(corpus, show_progress=False)
    builder = _Bm25Builder()
    for tokens in corpus:
        builder.append(tokens)
    ours = builder.build()
    for query in QUERIES:
        tokens = [t for t in dict.fromkeys(tokenize(query)) if t in ours.vocab_dict]
        assert tokens
        assert np.allclose(
            ours.get_scores(tokens), reference.get_scores(tokens), rtol=1e-5, atol=1e-6
        )


def test_small_batches_and_chunks_give_the_same_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kb = small_kb()
    whole = KnowledgeIndex.open(tmp_path / "whole", CountingEncoder())
    whole.sync(documents(kb), product_aliases(kb))
    monkeypatch.setattr(index_module, "EMBED_BATCH", 2)
    monkeypatch.setattr(index_module, "LEXICAL_CHUNK", 2)
    streamed = KnowledgeIndex.open(tmp_path / "streamed", CountingEncoder())
    streamed.sync(documents(kb), product_aliases(kb))
    for query in QUERIES:
        expected = [(h.id, h.score) for h in Searcher(whole).search(query)]
        assert [(h.id, h.score) for h in Searcher(streamed).search(query)] == expected
    assert Searcher(streamed).search("AC300 压力上不去")[0].id == "F-AC-E03"
    assert Searcher(streamed).search("保修期多久")[0].id == "FAQ-warranty"


def test_streamed_ivf_build_trains_on_a_bounded_sample_and_maps_the_lists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(index_module, "EXACT_MAX_ROWS", 200)
    monkeypatch.setattr(index_module, "IVF_TRAIN_ROWS", 300)
    monkeypatch.setattr(index_module, "EMBED_BATCH", 64)
    encoder = BatchRecorder()
    docs = LazyDocs(150)
    index = KnowledgeIndex.open(tmp_path / "index", encoder)
    report = index.sync(docs, {})
    assert report.added == 150 and report.embedded_texts == 450
    assert max(encoder.batches) <= 64 + 2  # a batch ends after the item that fills it
    assert sum(encoder.batches) == 450
    manifest = json.loads((tmp_path / "index" / "manifest.json").read_text())
    assert manifest["dense_type"] == "IndexIVFScalarQuantizer"
    served = KnowledgeIndex.open(tmp_path / "index", HashEncoder())
    assert served.mapped and served.dense.ntotal == 450 and len(served) == 150
    assert str(tmp_path / "index" / "dense.faiss") in _mapped_files()
    for n in (3, 140):  # one item from the training sample, one added after training
        vector = HashEncoder().encode([f"fault {n} symptom"])[0]
        slots, _ = served.dense_scores(vector, 5)
        assert n in {int(s) for s in slots}


def test_mapped_index_serves_like_a_loaded_one_and_still_updates(tmp_path: Path) -> None:
    kb = small_kb()
    KnowledgeIndex.open(tmp_path / "index", CountingEncoder()).sync(
        documents(kb), product_aliases(kb)
    )
    loaded = KnowledgeIndex.open(tmp_path / "index", CountingEncoder(), mmap=False)
    mapped = KnowledgeIndex.open(tmp_path / "index", CountingEncoder())
    assert mapped.mapped and not loaded.mapped
    assert isinstance(mapped.alive.base, np.memmap)  # a plain view of the map
    assert mapped.lexical is not None and isinstance(mapped.lexical.scores["data"].base, np.memmap)
    assert str(tmp_path / "index" / "dense.faiss") in _mapped_files()
    for query in QUERIES:
        expected = [(h.id, h.score) for h in Searcher(loaded).search(query)]
        assert [(h.id, h.score) for h in Searcher(mapped).search(query)] == expected

    changed = json.loads(json.dumps(SMALL_KB["faults"]))
    changed[4]["symptoms"]["en"].append("oil in the condensate")
    encoder = CountingEncoder()
    mapped_again = KnowledgeIndex.open(tmp_path / "index", encoder)
    kb2 = small_kb(faults=changed)
    report = mapped_again.sync(documents(kb2), product_aliases(kb2))
    assert (report.updated, report.unchanged) == (1, 5)
    assert encoder.texts == len(next(d for d in documents(kb2) if d.id == "F-DR-water").texts)
    assert not mapped_again.mapped
    reopened = KnowledgeIndex.open(tmp_path / "index", CountingEncoder())
    assert Searcher(reopened).search("oil in the condensate of the dryer")[0].id == "F-DR-water"
    # the index mapped before the update still serves its own (old) files
    assert Searcher(mapped).search("AC300 压力上不去")[0].id == "F-AC-E03"


def test_deleting_many_items_removes_their_rows_in_one_pass(tmp_path: Path) -> None:
    index = KnowledgeIndex.open(tmp_path / "index", HashEncoder())
    index.sync(many_docs(40), {})
    kept = [d for d in many_docs(40) if int(d.id[2:]) % 3]
    report = index.sync(kept, {})
    assert report.removed == 14 and index.dense.ntotal == 3 * len(kept)
    ids = {int(i) // index_module.MAX_TEXTS_PER_ITEM for i in _ids(index)}
    assert ids == {index._slots()[d.id] for d in kept}


def _ids(index: KnowledgeIndex) -> np.ndarray:
    import faiss

    mapped = faiss.downcast_index(index.dense)
    return faiss.vector_to_array(mapped.id_map)
