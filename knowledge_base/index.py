"""The search index over the answerable items of a knowledge base (faults and FAQs).

Three channels, all kept on disk under an index dir the caller chooses:
- dense: every item text (title, symptoms, questions, per language) embedded by the configured
  encoder, in FAISS; an item's dense score is its best cosine over its texts. FAISS ids are
  `slot * MAX_TEXTS_PER_ITEM + text number`, so an item's rows are removed by id range and a
  row's item is `id // MAX_TEXTS_PER_ITEM`, with no per-row table.
- lexical: BM25 (bm25s) over `knowledge_base.text.tokenize` tokens.
- exact: the item's known codes and products (CSR arrays), matched by `text.CodeMatcher`.

Per-item metadata lives in numpy arrays (ids and titles as UTF-8 blobs with offsets), never in
one Python object per item, so a million items fit in memory. `sync()` re-embeds only items whose
content hash changed, removes deleted ones, and starts from scratch when the encoder changed; the
manifest records the encoder, the KB revision and the format.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import bm25s
import faiss
import numpy as np

from knowledge_base.encoders import Encoder
from knowledge_base.format import KnowledgeBase, lists_by_lang, texts_by_lang
from knowledge_base.text import CodeMatcher, normalize, tokenize

INDEX_FORMAT = 2
ITEM_TYPES = ("fault", "faq")
# An item's FAISS ids are slot * MAX_TEXTS_PER_ITEM + n; texts beyond this are not embedded.
MAX_TEXTS_PER_ITEM = 64
# Index type by number of dense rows (item texts). Exact inner product up to EXACT_MAX_ROWS:
# measured single-threaded (bench/kb_scale.py), exact search over 40k rows cost 11.5 ms p50 on
# the index side, IVF-SQ8 over 400k rows 3.5 ms, so exact stops at 20k rows (~5 ms).
# IVF with 8-bit scalar quantization up to SQ8_MAX_ROWS (512 B per row); IVF-PQ (64 B per row)
# beyond, which keeps 1M items (several rows each) within the 2 GB budget.
EXACT_MAX_ROWS = 20_000
SQ8_MAX_ROWS = 1_000_000
PQ_BYTES = 64
IVF_TRAIN_ROWS = 100_000  # k-means sample; more only slows training on 2 cores
EMBED_BATCH = IVF_TRAIN_ROWS  # texts embedded per batch; the first also trains IVF
IVF_MAX_LISTS = 4096  # 4*sqrt(rows) lists, capped: k-means and assignment cost grow with it
IVF_NPROBE = (
    24  # lists probed per query: FAISS's usual 1-2 % of lists; latency in bench/kb_scale.py
)
BM25_K1, BM25_B = 1.2, 0.75

_MANIFEST = "manifest.json"
_ARRAYS = "items.npz"
_DENSE = "dense.faiss"
_LEXICAL = "bm25"


@dataclass(frozen=True)
class ItemDoc:
    """What the index knows of one answerable item."""

    id: str
    type: str  # "fault" | "faq"
    titles: dict[str, str]  # lang -> title shown in hits
    texts: tuple[str, ...]  # embedded one by one (dense channel)
    lexical: str  # the BM25 document
    codes: tuple[str, ...] = ()
    products: tuple[str, ...] = ()

    def content_hash(self) -> bytes:
        """SHA-1 of the content, in hex (numpy's fixed-size bytes drop trailing zero bytes)."""
        payload = json.dumps(
            [self.type, self.titles, self.texts, self.lexical, self.codes, self.products],
            ensure_ascii=False,
            sort_keys=True,
        )
        return hashlib.sha1(payload.encode("utf-8")).hexdigest().encode("ascii")


def documents(kb: KnowledgeBase) -> list[ItemDoc]:
    """The faults and FAQs of a knowledge base as index documents."""
    products = {p.id: p for p in kb.products}
    components = {c.id: c for c in kb.components}
    docs: list[ItemDoc] = []
    for fault in kb.faults:
        titles = texts_by_lang(fault.title)
        texts = [*titles.values(), *_flatten(fault.symptoms), *_flatten(fault.questions)]
        context = [
            *(_names(products[p].name) for p in fault.products if p in products),
            *(_names(components[c].name) for c in fault.components if c in components),
            *(" ".join(components[c].aliases) for c in fault.components if c in components),
        ]
        docs.append(
            ItemDoc(
                id=fault.id,
                type="fault",
                titles=titles,
                texts=_unique(texts),
                lexical="\n".join([*texts, *fault.codes, *context]),
                codes=tuple(fault.codes),
                products=tuple(fault.products),
            )
        )
    for faq in kb.faqs:
        questions = _flatten(faq.questions)
        titles = {lang: items[0] for lang, items in lists_by_lang(faq.questions).items() if items}
        docs.append(
            ItemDoc(
                id=faq.id,
                type="faq",
                titles=titles,
                texts=_unique(questions),
                lexical="\n".join([*questions, *faq.tags, *texts_by_lang(faq.answer).values()]),
                products=tuple(faq.products),
            )
        )
    return docs


def product_aliases(kb: KnowledgeBase) -> dict[str, list[str]]:
    """Product id -> the aliases customers type (model numbers, nicknames)."""
    return {p.id: list(p.aliases) for p in kb.products}


def _flatten(value: object) -> list[str]:
    return [text for items in lists_by_lang(value).values() for text in items]  # type: ignore[arg-type]


def _names(value: object) -> str:
    return " ".join(texts_by_lang(value).values())  # type: ignore[arg-type]


def _unique(texts: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for text in texts:
        if text.strip():
            seen.setdefault(normalize(text).strip(), text)
    return tuple(seen.values())[:MAX_TEXTS_PER_ITEM]


class StringTable:
    """Many strings in one UTF-8 blob with offsets: compact and fast to save and load."""

    def __init__(self, blob: np.ndarray, offsets: np.ndarray) -> None:
        self.blob = blob
        self.offsets = offsets

    @classmethod
    def build(cls, strings: Sequence[str]) -> StringTable:
        encoded = [s.encode("utf-8") for s in strings]
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([len(e) for e in encoded])
        return cls(np.frombuffer(b"".join(encoded), dtype=np.uint8).copy(), offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> str:
        return self.blob[self.offsets[i] : self.offsets[i + 1]].tobytes().decode("utf-8")


@dataclass
class SyncReport:
    """What one `sync()` did."""

    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    embedded_texts: int = 0
    rebuilt: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed or self.rebuilt)


@dataclass
class _Csr:
    """Per-slot lists of small ints (code or product numbers) as CSR arrays."""

    indptr: np.ndarray = field(default_factory=lambda: np.zeros(1, dtype=np.int64))
    values: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))

    @classmethod
    def build(cls, rows: Sequence[Sequence[int]]) -> _Csr:
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        indptr[1:] = np.cumsum([len(r) for r in rows])
        values = np.fromiter((v for r in rows for v in r), dtype=np.int32, count=int(indptr[-1]))
        return cls(indptr, values)

    def row(self, slot: int) -> np.ndarray:
        return self.values[self.indptr[slot] : self.indptr[slot + 1]]

    def counts(self) -> np.ndarray:
        return np.diff(self.indptr)


class KnowledgeIndex:
    """Dense + lexical + exact index over faults and FAQs, persisted in `index_dir`."""

    def __init__(self, index_dir: Path, encoder: Encoder) -> None:
        self.index_dir = Path(index_dir)
        self.encoder = encoder
        self._clear()

    def _clear(self) -> None:
        """Empty: no items, no vectors (an index that `sync()` fills from scratch)."""
        self.kb_revision = ""
        self.ids = StringTable.build([])
        self.types = np.zeros(0, dtype=np.int8)
        self.alive = np.zeros(0, dtype=bool)
        self.hashes = np.zeros(0, dtype="S40")
        self.titles: dict[str, StringTable] = {}
        self.code_names: list[str] = []
        self.code_number: dict[str, int] = {}
        self.product_number: dict[str, int] = {}
        self.product_names: list[str] = []
        self.codes = _Csr()
        self.products = _Csr()
        self.aliases: dict[str, list[str]] = {}
        self.dense = _new_dense(self.encoder.dim, 0)
        self.lexical: bm25s.BM25 | None = None
        self._token_max = np.zeros(0, dtype=np.float32)
        self._typical_token = 1.0
        self._matcher = CodeMatcher([], {})
        self._slot_of: dict[str, int] | None = None

    # --- opening and saving --------------------------------------------------------------------

    @classmethod
    def open(cls, index_dir: Path, encoder: Encoder) -> KnowledgeIndex:
        """The index saved in `index_dir`, or an empty one when there is none, it is of another
        format, or it was built with another encoder (then `sync()` rebuilds it)."""
        index = cls(index_dir, encoder)
        manifest = index._read_manifest()
        if manifest is None:
            return index
        if manifest.get("format") != INDEX_FORMAT or manifest.get("encoder") != {
            "name": encoder.name,
            "dim": encoder.dim,
        }:
            return index
        index._load(manifest)
        return index

    @property
    def manifest_path(self) -> Path:
        return self.index_dir / _MANIFEST

    def _read_manifest(self) -> dict | None:
        try:
            return json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def _load(self, manifest: dict) -> None:
        try:
            arrays = np.load(self.index_dir / _ARRAYS, allow_pickle=False)
            self.ids = StringTable(arrays["ids_blob"], arrays["ids_offsets"])
            self.types = arrays["types"]
            self.alive = arrays["alive"]
            self.hashes = arrays["hashes"]
            self.titles = {
                lang: StringTable(arrays[f"title_{lang}_blob"], arrays[f"title_{lang}_offsets"])
                for lang in manifest["title_langs"]
            }
            self.codes = _Csr(arrays["codes_indptr"], arrays["codes_values"])
            self.products = _Csr(arrays["products_indptr"], arrays["products_values"])
            self.dense = faiss.read_index(str(self.index_dir / _DENSE))
            if (self.index_dir / _LEXICAL).is_dir():
                self.lexical = bm25s.BM25.load(str(self.index_dir / _LEXICAL), show_progress=False)
        except (OSError, KeyError, ValueError, RuntimeError):
            self._clear()  # unusable files: start over
            return
        self.kb_revision = manifest.get("kb_revision", "")
        self.code_names = list(manifest["code_names"])
        self.product_names = list(manifest["product_names"])
        self.aliases = {k: list(v) for k, v in manifest["aliases"].items()}
        self._after_change()

    def save(self) -> None:
        """Write every file to a fresh folder, then swap it in (a crash keeps the old index)."""
        staging = self.index_dir.with_name(self.index_dir.name + ".staging")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        arrays = {
            "ids_blob": self.ids.blob,
            "ids_offsets": self.ids.offsets,
            "types": self.types,
            "alive": self.alive,
            "hashes": self.hashes,
            "codes_indptr": self.codes.indptr,
            "codes_values": self.codes.values,
            "products_indptr": self.products.indptr,
            "products_values": self.products.values,
        }
        for lang, table in self.titles.items():
            arrays[f"title_{lang}_blob"] = table.blob
            arrays[f"title_{lang}_offsets"] = table.offsets
        np.savez(staging / _ARRAYS, allow_pickle=False, **arrays)
        faiss.write_index(self.dense, str(staging / _DENSE))
        if self.lexical is not None:
            self.lexical.save(str(staging / _LEXICAL), show_progress=False)
        manifest = {
            "format": INDEX_FORMAT,
            "encoder": {"name": self.encoder.name, "dim": self.encoder.dim},
            "kb_revision": self.kb_revision,
            "items": int(self.alive.sum()),
            "dense_rows": int(self.dense.ntotal),
            "dense_type": type(faiss.downcast_index(self.dense)).__name__,
            "title_langs": sorted(self.titles),
            "code_names": self.code_names,
            "product_names": self.product_names,
            "aliases": self.aliases,
        }
        (staging / _MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False), "utf-8")
        old = self.index_dir.with_name(self.index_dir.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if self.index_dir.exists():
            os.replace(self.index_dir, old)
        os.replace(staging, self.index_dir)
        shutil.rmtree(old, ignore_errors=True)

    # --- keeping in step with the knowledge base --------------------------------------------

    def sync(
        self,
        docs: Sequence[ItemDoc],
        aliases: dict[str, list[str]],
        kb_revision: str | None = None,
        save: bool = True,
    ) -> SyncReport:
        """Make the index hold exactly `docs`: embed new and changed items only, drop deleted."""
        report = SyncReport(rebuilt=len(self.alive) == 0 and bool(docs))
        slot_of = self._slots()
        wanted = {doc.id: doc for doc in docs}
        removed = [slot for item_id, slot in slot_of.items() if item_id not in wanted]
        changed: list[tuple[int, ItemDoc]] = []
        free = [int(s) for s in np.flatnonzero(~self.alive)] + removed
        next_slot = len(self.alive)
        for doc in docs:
            slot = slot_of.get(doc.id)
            if slot is None:
                if free:
                    slot = free.pop(0)
                else:
                    slot, next_slot = next_slot, next_slot + 1
                report.added += 1
                changed.append((slot, doc))
            elif self.hashes[slot] != doc.content_hash():
                report.updated += 1
                changed.append((slot, doc))
            else:
                report.unchanged += 1
        report.removed = len(removed)
        revision = kb_revision or _revision(docs)
        if not (changed or removed) and aliases == self.aliases:
            if revision != self.kb_revision:
                self.kb_revision = revision
                if save:
                    self.save()
            return report
        self._remove_rows([slot for slot, _ in changed if slot < len(self.alive)] + removed)
        report.embedded_texts = self._embed(changed)
        self._rebuild_metadata(docs, slot_of, changed, next_slot, aliases)
        self.kb_revision = revision
        if save:
            self.save()
        return report

    def _slots(self) -> dict[str, int]:
        if self._slot_of is None:
            self._slot_of = {self.ids[i]: i for i in np.flatnonzero(self.alive).tolist()}
        return self._slot_of

    def _remove_rows(self, slots: Sequence[int]) -> None:
        for slot in slots:
            start = slot * MAX_TEXTS_PER_ITEM
            self.dense.remove_ids(faiss.IDSelectorRange(start, start + MAX_TEXTS_PER_ITEM))

    def _embed(self, changed: Sequence[tuple[int, ItemDoc]]) -> int:
        """Embed the texts of changed items in batches (bounded memory) and add them."""
        texts = [text for _, doc in changed for text in doc.texts]
        ids = np.fromiter(
            (slot * MAX_TEXTS_PER_ITEM + n for slot, doc in changed for n in range(len(doc.texts))),
            dtype=np.int64,
            count=len(texts),
        )
        total = self.dense.ntotal + len(texts)
        for start in range(0, len(texts), EMBED_BATCH):
            batch = texts[start : start + EMBED_BATCH]
            self.add_vectors(ids[start : start + EMBED_BATCH], self.encoder.encode(batch), total)
        return len(texts)

    def add_vectors(self, ids: np.ndarray, vectors: np.ndarray, expected_total: int) -> None:
        """Add dense rows; when the rows expected in all will be too many for the exact index,
        move to the approximate type first, trained on what is there plus this batch."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if _is_exact(self.dense) and expected_total > EXACT_MAX_ROWS:
            old_ids, old_vectors = _exact_contents(self.dense)
            self.dense = _new_dense(self.encoder.dim, expected_total)
            _train(self.dense, np.vstack([old_vectors, vectors]))
            if len(old_ids):
                self.dense.add_with_ids(old_vectors, old_ids)
        if len(ids):
            self.dense.add_with_ids(vectors, ids)

    def _rebuild_metadata(
        self,
        docs: Sequence[ItemDoc],
        slot_of: dict[str, int],
        changed: Sequence[tuple[int, ItemDoc]],
        size: int,
        aliases: dict[str, list[str]],
    ) -> None:
        """Per-slot arrays and the lexical index for the new content (cheap: no embedding)."""
        by_slot: list[ItemDoc | None] = [None] * size
        for doc in docs:
            slot = slot_of.get(doc.id)
            if slot is not None:
                by_slot[slot] = doc
        for slot, doc in changed:
            by_slot[slot] = doc
        self.code_names = sorted({c for d in docs for c in d.codes})
        self.product_names = sorted({p for d in docs for p in d.products} | set(aliases))
        code_no = {c: i for i, c in enumerate(self.code_names)}
        product_no = {p: i for i, p in enumerate(self.product_names)}
        langs = sorted({lang for d in docs for lang in d.titles})
        self.ids = StringTable.build([d.id if d else "" for d in by_slot])
        self.types = np.array([ITEM_TYPES.index(d.type) if d else 0 for d in by_slot], np.int8)
        self.alive = np.array([d is not None for d in by_slot], dtype=bool)
        self.hashes = np.array([d.content_hash() if d else b"" for d in by_slot], dtype="S40")
        self.titles = {
            lang: StringTable.build([(d.titles.get(lang, "") if d else "") for d in by_slot])
            for lang in langs
        }
        self.codes = _Csr.build([[code_no[c] for c in d.codes] if d else [] for d in by_slot])
        self.products = _Csr.build(
            [[product_no[p] for p in d.products if p in product_no] if d else [] for d in by_slot]
        )
        self.aliases = {k: list(v) for k, v in aliases.items()}
        corpus = [tokenize(d.lexical) if d else [] for d in by_slot]
        self.lexical = bm25s.BM25(k1=BM25_K1, b=BM25_B)
        self.lexical.index(corpus, show_progress=False)
        self._slot_of = None
        self._after_change()

    def _after_change(self) -> None:
        self.code_number = {code: n for n, code in enumerate(self.code_names)}
        self.product_number = {product: n for n, product in enumerate(self.product_names)}
        self._matcher = CodeMatcher(
            self.code_names, {p: self.aliases.get(p, []) for p in self.product_names}
        )
        if self.lexical is not None:
            self._token_max = _column_max(self.lexical)
            used = self._token_max[self._token_max > 0]
            self._typical_token = float(np.median(used)) if len(used) else 1.0
        if not _is_exact(self.dense):
            faiss.extract_index_ivf(self.dense).nprobe = IVF_NPROBE

    # --- what searching needs ---------------------------------------------------------------

    @property
    def matcher(self) -> CodeMatcher:
        return self._matcher

    def __len__(self) -> int:
        return int(self.alive.sum())

    def dense_scores(self, vector: np.ndarray, rows: int) -> tuple[np.ndarray, np.ndarray]:
        """(slots, best cosine per slot) of the items owning the `rows` nearest texts."""
        if self.dense.ntotal == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        sims, ids = self.dense.search(vector.reshape(1, -1).astype(np.float32), rows)
        keep = ids[0] >= 0
        slots, sims = ids[0][keep] // MAX_TEXTS_PER_ITEM, sims[0][keep]
        slots, first = np.unique(slots, return_index=True)  # results come sorted by similarity
        return slots, sims[first]

    def lexical_scores(self, tokens: list[str]) -> tuple[np.ndarray, float]:
        """(BM25 score of every slot, the most an item could score for ALL the query's words).

        Words the knowledge base never uses count with a typical word's weight in the maximum,
        so a query that shares one word with the KB and is otherwise about something else
        ("recommend a coffee bean supplier") cannot look like a full match.
        """
        distinct = list(dict.fromkeys(tokens))
        if self.lexical is None or not distinct:
            return np.zeros(len(self.alive), np.float32), 0.0
        vocab = self.lexical.vocab_dict
        token_ids = [vocab[t] for t in distinct if t in vocab]
        unknown = len(distinct) - len(token_ids)
        best = float(self._token_max[token_ids].sum()) + unknown * self._typical_token
        if not token_ids:
            return np.zeros(len(self.alive), np.float32), best
        return self.lexical.get_scores_from_ids(token_ids), best

    def item_id(self, slot: int) -> str:
        return self.ids[slot]

    def item_type(self, slot: int) -> str:
        return ITEM_TYPES[int(self.types[slot])]

    def title(self, slot: int, lang: str) -> str:
        """The item's title in `lang`, else in any language it has."""
        table = self.titles.get(lang)
        if table is not None and (title := table[slot]):
            return title
        return next((t[slot] for t in self.titles.values() if t[slot]), self.ids[slot])

    def slots_with_codes(self, codes: Iterable[str]) -> np.ndarray:
        wanted = [self.code_number[c] for c in codes if c in self.code_number]
        hits = np.isin(self.codes.values, wanted)
        return np.unique(np.searchsorted(self.codes.indptr, np.flatnonzero(hits), side="right") - 1)


def _revision(docs: Sequence[ItemDoc]) -> str:
    digest = hashlib.sha1()
    for doc in sorted(docs, key=lambda d: d.id):
        digest.update(doc.id.encode() + doc.content_hash())
    return digest.hexdigest()


def _new_dense(dim: int, rows: int) -> faiss.Index:
    """The FAISS index type for `rows` vectors (see EXACT_MAX_ROWS and SQ8_MAX_ROWS)."""
    if rows <= EXACT_MAX_ROWS:
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    nlist = int(min(IVF_MAX_LISTS, max(256, 4 * np.sqrt(rows))))
    quantizer = faiss.IndexFlatIP(dim)
    if rows <= SQ8_MAX_ROWS:
        return faiss.IndexIVFScalarQuantizer(
            quantizer, dim, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
        )
    return faiss.IndexIVFPQ(quantizer, dim, nlist, PQ_BYTES, 8, faiss.METRIC_INNER_PRODUCT)


def _train(index: faiss.Index, vectors: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    sample = vectors[rng.choice(len(vectors), min(len(vectors), IVF_TRAIN_ROWS), replace=False)]
    index.train(np.ascontiguousarray(sample))


def _is_exact(index: faiss.Index) -> bool:
    return isinstance(index, faiss.IndexIDMap2) or isinstance(
        faiss.downcast_index(index), faiss.IndexIDMap2
    )


def _exact_contents(index: faiss.Index) -> tuple[np.ndarray, np.ndarray]:
    mapped = index if isinstance(index, faiss.IndexIDMap2) else faiss.downcast_index(index)
    assert isinstance(mapped, faiss.IndexIDMap2)  # callers ask `_is_exact` first
    ids = faiss.vector_to_array(mapped.id_map).astype(np.int64)
    flat = faiss.downcast_index(mapped.index)
    assert isinstance(flat, faiss.IndexFlat)  # `_new_dense` wraps an IndexFlatIP
    vectors = faiss.rev_swig_ptr(flat.get_xb(), flat.ntotal * flat.d).reshape(flat.ntotal, flat.d)
    return ids, np.array(vectors, dtype=np.float32)


def _column_max(retriever: bm25s.BM25) -> np.ndarray:
    """The highest BM25 contribution of each vocabulary token over all documents."""
    data, indptr = retriever.scores["data"], retriever.scores["indptr"]
    maxima = np.zeros(len(indptr) - 1, dtype=np.float32)
    nonempty = np.flatnonzero(np.diff(indptr) > 0)
    if len(nonempty):
        maxima[nonempty] = np.maximum.reduceat(data, indptr[nonempty])
    return maxima
