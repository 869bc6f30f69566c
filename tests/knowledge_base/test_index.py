"""The on-disk index: load without re-embedding, incremental updates, rebuild on encoder change."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import pytest

import knowledge_base.index as index_module
from knowledge_base.encoders import Encoder, load_encoder
from knowledge_base.format import KnowledgeBase
from knowledge_base.index import ItemDoc, KnowledgeIndex, documents, product_aliases
from knowledge_base.search import Searcher
from knowledge_base.service import sync_index

# A small two-product KB used by the index, search and service tests.
SMALL_KB: dict[str, Any] = {
    "version": 1,
    "products": [
        {
            "id": "AC-300",
            "name": {"zh": "AC-300 螺杆空压机", "en": "AC-300 screw compressor"},
            "aliases": ["AC300", "AC 300"],
        },
        {
            "id": "DR-50",
            "name": {"zh": "DR-50 冷干机", "en": "DR-50 refrigerated dryer"},
            "aliases": ["DR50", "冷干机"],
        },
    ],
    "faults": [
        {
            "id": "F-AC-E03",
            "title": {"zh": "排气压力低（E03）", "en": "Low discharge pressure (E03)"},
            "products": ["AC-300"],
            "codes": ["E03"],
            "symptoms": {
                "zh": ["压力上不去", "排气压力低于设定值"],
                "en": ["pressure will not build up", "discharge pressure below set point"],
            },
        },
        {
            "id": "F-AC-E04",
            "title": {"zh": "排气温度过高（E04）", "en": "High discharge temperature (E04)"},
            "products": ["AC-300"],
            "codes": ["E04"],
            "symptoms": {
                "zh": ["机器过热停机", "排气温度超过110度"],
                "en": ["unit trips on overheating", "discharge temperature above 110 C"],
            },
        },
        {
            "id": "F-AC-noise",
            "title": {"zh": "空压机异响", "en": "Compressor makes a loud noise"},
            "products": ["AC-300"],
            "symptoms": {"zh": ["运行时有金属敲击声"], "en": ["metallic knocking while running"]},
        },
        {
            "id": "F-DR-noise",
            "title": {"zh": "冷干机异响", "en": "Dryer makes a loud noise"},
            "products": ["DR-50"],
            "symptoms": {"zh": ["运行时有金属敲击声"], "en": ["metallic knocking while running"]},
        },
        {
            "id": "F-DR-water",
            "title": {"zh": "出口有水", "en": "Water at the dryer outlet"},
            "products": ["DR-50"],
            "symptoms": {
                "zh": ["压缩空气里带水", "排水器不排水"],
                "en": ["wet compressed air", "the drain does not discharge"],
            },
        },
    ],
    "faqs": [
        {
            "id": "FAQ-warranty",
            "questions": {"zh": ["保修期多久"], "en": ["how long is the warranty"]},
            "answer": {"zh": "整机保修两年。", "en": "Two years on the unit."},
        },
    ],
}


class CountingEncoder:
    """The real encoder, counting the texts it is asked to embed (and able to pose as another)."""

    def __init__(self, name: str | None = None) -> None:
        self._inner = load_encoder(None)
        self.name = name or self._inner.name
        self.dim = self._inner.dim
        self.texts = 0

    def encode(self, texts: list[str]) -> np.ndarray:
        self.texts += len(texts)
        return self._inner.encode(texts)


def small_kb(**changes: object) -> KnowledgeBase:
    data = json.loads(json.dumps(SMALL_KB))
    data.update(changes)
    return KnowledgeBase.model_validate(data)


def build(index_dir: Path, kb: KnowledgeBase, encoder: Encoder) -> KnowledgeIndex:
    index = KnowledgeIndex.open(index_dir, encoder)
    index.sync(documents(kb), product_aliases(kb))
    return index


@pytest.fixture
def index_dir(tmp_path: Path) -> Path:
    return tmp_path / "index"


def test_saved_index_loads_without_embedding(index_dir: Path) -> None:
    kb = small_kb()
    first = CountingEncoder()
    built = build(index_dir, kb, first)
    assert first.texts == sum(len(d.texts) for d in documents(kb))
    again = CountingEncoder()
    loaded = KnowledgeIndex.open(index_dir, again)
    report = loaded.sync(documents(kb), product_aliases(kb))
    assert again.texts == 0
    assert not report.changed and report.unchanged == 6
    query = "AC300 压力上不去"
    expected = [(h.id, h.score) for h in Searcher(built).search(query)]
    assert [(h.id, h.score) for h in Searcher(loaded).search(query)] == expected
    assert again.texts == 1  # only the query


def test_changed_item_alone_is_embedded_again(index_dir: Path) -> None:
    build(index_dir, small_kb(), CountingEncoder())
    changed = json.loads(json.dumps(SMALL_KB["faults"]))
    changed[4]["symptoms"]["en"].append("oil in the condensate")
    encoder = CountingEncoder()
    index = KnowledgeIndex.open(index_dir, encoder)
    kb = small_kb(faults=changed)
    report = index.sync(documents(kb), product_aliases(kb))
    assert (report.updated, report.added, report.removed, report.unchanged) == (1, 0, 0, 5)
    assert encoder.texts == len(next(d for d in documents(kb) if d.id == "F-DR-water").texts)
    reopened = KnowledgeIndex.open(index_dir, CountingEncoder())
    assert Searcher(reopened).search("oil in the condensate of the dryer")[0].id == "F-DR-water"


def test_deleted_item_disappears_and_new_one_is_found(index_dir: Path) -> None:
    build(index_dir, small_kb(), CountingEncoder())
    faults = [f for f in SMALL_KB["faults"] if f["id"] != "F-AC-E04"] + [
        {
            "id": "F-AC-belt",
            "title": {"en": "Drive belt squeals"},
            "products": ["AC-300"],
            "symptoms": {"en": ["high pitched squeal at start-up"]},
        }
    ]
    encoder = CountingEncoder()
    index = KnowledgeIndex.open(index_dir, encoder)
    kb = small_kb(faults=faults)
    report = index.sync(documents(kb), product_aliases(kb))
    assert (report.added, report.removed) == (1, 1)
    assert encoder.texts == 2  # the new item's title and symptom
    reopened = KnowledgeIndex.open(index_dir, CountingEncoder())
    ids = {h.id for h in Searcher(reopened).search("E04 overheating trip", k=10)}
    assert "F-AC-E04" not in ids
    assert Searcher(reopened).search("belt squeal when starting")[0].id == "F-AC-belt"
    assert len(reopened) == 6


def test_other_encoder_rebuilds_everything(index_dir: Path) -> None:
    kb = small_kb()
    build(index_dir, kb, CountingEncoder())
    other = CountingEncoder(name="another-model")
    index = KnowledgeIndex.open(index_dir, other)
    assert len(index) == 0
    report = index.sync(documents(kb), product_aliases(kb))
    assert report.rebuilt
    assert other.texts == sum(len(d.texts) for d in documents(kb))
    manifest = json.loads((index_dir / "manifest.json").read_text())
    assert manifest["encoder"]["name"] == "another-model"


def test_corrupt_files_are_rebuilt_not_fatal(index_dir: Path) -> None:
    kb = small_kb()
    build(index_dir, kb, CountingEncoder())
    (index_dir / "dense.faiss").write_bytes(b"not a faiss index")
    encoder = CountingEncoder()
    index = KnowledgeIndex.open(index_dir, encoder)
    index.sync(documents(kb), product_aliases(kb))
    assert encoder.texts > 0
    assert Searcher(index).search("AC300 E03")[0].id == "F-AC-E03"


def test_manifest_records_encoder_revision_and_sizes(index_dir: Path) -> None:
    kb = small_kb()
    index = KnowledgeIndex.open(index_dir, CountingEncoder())
    index.sync(documents(kb), product_aliases(kb), kb_revision="7")
    manifest = json.loads((index_dir / "manifest.json").read_text())
    assert manifest["kb_revision"] == "7"
    assert manifest["items"] == 6
    assert manifest["encoder"] == {"name": "use-multilingual", "dim": 512}
    assert manifest["dense_type"] == "IndexIDMap2"


class HashEncoder:
    """Random but fixed unit vectors per text: enough to test index mechanics at a few hundred
    rows without a model."""

    name, dim = "hash-test", 64

    def encode(self, texts: list[str]) -> np.ndarray:
        rows = [
            np.random.default_rng(
                int(hashlib.sha1(t.encode()).hexdigest()[:8], 16)
            ).standard_normal(self.dim)
            for t in texts
        ]
        vectors = np.array(rows, dtype=np.float32).reshape(len(texts), self.dim)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def many_docs(count: int) -> list[ItemDoc]:
    return [
        ItemDoc(
            id=f"F-{n}",
            type="fault",
            titles={"en": f"fault {n}"},
            texts=(f"fault {n} title", f"fault {n} symptom", f"fault {n} question"),
            lexical=f"fault {n}",
        )
        for n in range(count)
    ]


def test_growing_past_the_exact_limit_moves_to_ivf_and_keeps_items(
    index_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(index_module, "EXACT_MAX_ROWS", 200)
    index = KnowledgeIndex.open(index_dir, HashEncoder())
    index.sync(many_docs(50), {})
    assert json.loads((index_dir / "manifest.json").read_text())["dense_type"] == "IndexIDMap2"
    report = index.sync(many_docs(120), {})
    assert (report.added, report.unchanged, report.embedded_texts) == (70, 50, 210)
    reopened = KnowledgeIndex.open(index_dir, HashEncoder())
    manifest = json.loads((index_dir / "manifest.json").read_text())
    assert manifest["dense_type"] == "IndexIVFScalarQuantizer"
    assert reopened.dense.ntotal == 360 and len(reopened) == 120
    for n in (3, 77):  # one item from before the switch, one added with it
        vector = HashEncoder().encode([f"fault {n} symptom"])[0]
        slots, _ = reopened.dense_scores(vector, 5)
        assert n in {int(s) for s in slots}


def test_tokens_of_another_tokenizer_are_redone_without_embedding(
    index_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An index saved before the dialect table or tokenizer changed gets today's lexical tokens
    on the next start, although the KB revision is the same, and embeds nothing again."""
    kb = small_kb()
    with monkeypatch.context() as older:
        older.setattr(index_module, "tokenize", lambda text: ["x"])
        older.setattr(index_module, "tokenizer_revision", lambda: "older")
        sync_index(kb, index_dir, CountingEncoder(), revision="3")
    encoder = CountingEncoder()
    assert not KnowledgeIndex.open(index_dir, encoder).tokens_current
    index, report = sync_index(kb, index_dir, encoder, revision="3")
    assert encoder.texts == 0 and not (report.added or report.updated or report.removed)
    assert index.tokens_current
    fresh, _ = sync_index(kb, tmp_path / "fresh", CountingEncoder(), revision="3")
    query = "排水器不排水"
    expected = [(h.id, h.score) for h in Searcher(fresh).search(query)]
    assert [(h.id, h.score) for h in Searcher(index).search(query)] == expected


def test_a_query_is_searched_on_one_omp_thread_with_the_team_s_results(index_dir: Path) -> None:
    """One vector is searched without an OpenMP team (its id mapping is a parallel loop), to
    the same slots and cosines as with one, and the thread's team size is left as it was."""
    index = build(index_dir, small_kb(), CountingEncoder())
    vector = index.encoder.encode(["discharge pressure too low"])[0]
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(2)
    try:
        sims, ids = index.dense.search(vector.reshape(1, -1), 8)
        slots, cosines = index.dense_scores(vector, 8)
        assert faiss.omp_get_max_threads() == 2
    finally:
        faiss.omp_set_num_threads(threads)
    rows = ids[0] >= 0
    expected, first = np.unique(ids[0][rows] // index_module.MAX_TEXTS_PER_ITEM, return_index=True)
    assert np.array_equal(slots, expected)
    assert np.array_equal(cosines, sims[0][rows][first])
