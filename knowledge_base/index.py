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

Built in a stream, with bounded memory: items are read one at a time (`docs` may be a lazy
sequence), their texts embedded in batches of `EMBED_BATCH` and added as they come; an IVF index
is trained on the first `IVF_TRAIN_ROWS` vectors only, and the BM25 matrix is assembled from
per-chunk token counts, never from one list of tokens per document.

Served memory-mapped: every array is its own `.npy` file, the FAISS file is read with
`IO_FLAG_MMAP` (IVF: the inverted lists stay in the file) or `IO_FLAG_MMAP_IFC` (exact: the flat
codes), and BM25 with `mmap=True`, so the worker processes of one host share one copy of the
pages. `sync()` first reloads the dense index into memory when it has to change it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from array import array
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import bm25s
import faiss
import numpy as np
from tqdm import tqdm  # type: ignore[import-untyped]

from knowledge_base.encoders import Encoder
from knowledge_base.format import KnowledgeBase, lists_by_lang, texts_by_lang
from knowledge_base.text import CodeMatcher, normalize, tokenize, tokenizer_revision

INDEX_FORMAT = 3  # 3: one .npy per array (memory-mapped); 2 (items.npz) is still read
READABLE_FORMATS = (2, 3)
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
# Texts embedded per batch: 8k x 512 float32 = 16 MB. Until an IVF index is trained the batches
# are kept (at most IVF_TRAIN_ROWS vectors, 200 MB), then trained on and added.
EMBED_BATCH = 8192
LEXICAL_CHUNK = 20_000  # documents tokenized per chunk of the BM25 build
IVF_MAX_LISTS = 4096  # 4*sqrt(rows) lists, capped: k-means and assignment cost grow with it
IVF_NPROBE = (
    24  # lists probed per query: FAISS's usual 1-2 % of lists; latency in bench/kb_scale.py
)
BM25_K1, BM25_B = 1.2, 0.75

_MANIFEST = "manifest.json"
_ARRAYS_V2 = "items.npz"
_ARRAYS = "items"  # a folder of .npy files
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

    def matches(self, slots: np.ndarray, wanted: set[int]) -> tuple[np.ndarray, np.ndarray]:
        """(has any value, has a value in `wanted`) for each of `slots`, in one vectorised pass.

        A search scores a few hundred candidates; a Python loop of `row()` calls over
        memory-mapped arrays cost ~12 ms a query at a million items, this well under 1 ms.
        """
        starts = np.asarray(self.indptr[slots])
        counts = np.asarray(self.indptr[slots + 1]) - starts
        owner = np.repeat(np.arange(len(slots)), counts)
        offsets = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        values = np.asarray(self.values[np.repeat(starts, counts) + offsets])
        hit = np.isin(values, np.fromiter(wanted, np.int64, len(wanted)))
        return counts > 0, np.bincount(owner[hit], minlength=len(slots)) > 0

    def counts(self) -> np.ndarray:
        return np.diff(self.indptr)


class KnowledgeIndex:
    """Dense + lexical + exact index over faults and FAQs, persisted in `index_dir`."""

    def __init__(self, index_dir: Path, encoder: Encoder) -> None:
        self.index_dir = Path(index_dir)
        self.encoder = encoder
        self._clear()

    @property
    def alive(self) -> np.ndarray:
        """Which slots hold an item (a removed item's slot is taken again later)."""
        return self._alive

    @alive.setter
    def alive(self, value: np.ndarray) -> None:
        self._alive = value
        self._items = int(np.count_nonzero(value))  # len(): asked on every search

    def _clear(self) -> None:
        """Empty: no items, no vectors (an index that `sync()` fills from scratch)."""
        self.kb_revision = ""
        self.tokenizer = ""  # `tokenizer_revision()` of the lexical tokens held
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
        self._mapped = False

    # --- opening and saving --------------------------------------------------------------------

    @classmethod
    def open(cls, index_dir: Path, encoder: Encoder, mmap: bool = True) -> KnowledgeIndex:
        """The index saved in `index_dir`, or an empty one when there is none, it is of another
        format, or it was built with another encoder (then `sync()` rebuilds it).

        `mmap` (the default) maps the files instead of reading them, so the processes of one
        host that open the same folder share its pages."""
        index = cls(index_dir, encoder)
        manifest = index._read_manifest()
        if manifest is None:
            return index
        if manifest.get("format") not in READABLE_FORMATS or manifest.get("encoder") != {
            "name": encoder.name,
            "dim": encoder.dim,
        }:
            return index
        index._load(manifest, mmap)
        return index

    @property
    def manifest_path(self) -> Path:
        return self.index_dir / _MANIFEST

    @property
    def mapped(self) -> bool:
        """Whether the dense index is a read-only map of its file (`sync()` reloads it)."""
        return self._mapped

    @property
    def tokens_current(self) -> bool:
        """Whether the lexical tokens held are what `tokenize` makes today (a new dialect table
        or tokenizer re-tokenizes the items on the next `sync()`, without embedding them)."""
        return self.tokenizer == tokenizer_revision()

    def _read_manifest(self) -> dict | None:
        try:
            return json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def _load(self, manifest: dict, mmap: bool) -> None:
        try:
            arrays = _read_arrays(self.index_dir, mmap)
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
            self.dense = _read_dense(self.index_dir / _DENSE, manifest, mmap)
            self._mapped = mmap
            if (self.index_dir / _LEXICAL).is_dir():
                self.lexical = _plain_views(
                    bm25s.BM25.load(str(self.index_dir / _LEXICAL), mmap=mmap, show_progress=False)
                )
            token_max = arrays.get("token_max")
        except (OSError, KeyError, ValueError, RuntimeError):
            self._clear()  # unusable files: start over
            return
        self.kb_revision = manifest.get("kb_revision", "")
        self.tokenizer = manifest.get("tokenizer", "")
        self.code_names = list(manifest["code_names"])
        self.product_names = list(manifest["product_names"])
        self.aliases = {k: list(v) for k, v in manifest["aliases"].items()}
        self._after_change(token_max)

    def _writable(self) -> None:
        """The dense index in memory (a mapped one cannot change), before `sync()` changes it."""
        if self._mapped:
            self.dense = faiss.read_index(str(self.index_dir / _DENSE))
            self._mapped = False
            self._after_change(self._token_max)

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
            "token_max": self._token_max,
        }
        for lang, table in self.titles.items():
            arrays[f"title_{lang}_blob"] = table.blob
            arrays[f"title_{lang}_offsets"] = table.offsets
        (staging / _ARRAYS).mkdir()
        for name, values in arrays.items():
            np.save(staging / _ARRAYS / f"{name}.npy", np.asarray(values), allow_pickle=False)
        if self._mapped:  # unchanged since it was mapped: the file is what writing would give
            shutil.copyfile(self.index_dir / _DENSE, staging / _DENSE)
        else:
            faiss.write_index(self.dense, str(staging / _DENSE))
        if self.lexical is not None:
            self.lexical.save(str(staging / _LEXICAL), show_progress=False)
        manifest = {
            "format": INDEX_FORMAT,
            "encoder": {"name": self.encoder.name, "dim": self.encoder.dim},
            "kb_revision": self.kb_revision,
            "tokenizer": self.tokenizer,
            "items": len(self),
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
        shutil.rmtree(old, ignore_errors=True)  # pages still mapped stay readable until unmapped

    # --- keeping in step with the knowledge base --------------------------------------------

    def sync(
        self,
        docs: Sequence[ItemDoc],
        aliases: dict[str, list[str]],
        kb_revision: str | None = None,
        save: bool = True,
    ) -> SyncReport:
        """Make the index hold exactly `docs`: embed new and changed items only, drop deleted.

        `docs` is read item by item (by position), never held here all at once: a lazy sequence
        keeps the memory of a million-item build bounded."""
        report = SyncReport(rebuilt=len(self.alive) == 0 and len(docs) > 0)
        slot_of = self._slots()
        count = len(docs)
        hashes = np.zeros(count, dtype="S40")
        slot_of_doc = np.full(count, -1, dtype=np.int64)
        ids: list[str] = []
        changed = array("q")  # positions in `docs` to embed
        new_texts = 0
        for pos in range(count):
            doc = docs[pos]
            ids.append(doc.id)
            hashes[pos] = doc.content_hash()
            slot = slot_of.get(doc.id)
            if slot is None:
                report.added += 1
            elif self.hashes[slot] != hashes[pos]:
                report.updated += 1
                slot_of_doc[pos] = slot
            else:
                report.unchanged += 1
                slot_of_doc[pos] = slot
                continue
            changed.append(pos)
            new_texts += len(doc.texts)
        wanted = set(ids)
        removed = [slot for item_id, slot in slot_of.items() if item_id not in wanted]
        del wanted
        # New items take the free slots first (dead ones, then the removed), then new ones.
        free = iter([int(s) for s in np.flatnonzero(~np.asarray(self.alive))] + removed)
        next_slot = len(self.alive)
        replaced = [int(slot_of_doc[pos]) for pos in changed if slot_of_doc[pos] >= 0]
        for pos in changed:
            if slot_of_doc[pos] < 0:
                slot = next(free, None)
                if slot is None:
                    slot, next_slot = next_slot, next_slot + 1
                slot_of_doc[pos] = slot
        report.removed = len(removed)
        revision = kb_revision or _revision(ids, hashes)
        if not (len(changed) or removed) and aliases == self.aliases and self.tokens_current:
            if revision != self.kb_revision:
                self.kb_revision = revision
                if save:
                    self.save()
            return report
        del ids
        self._writable()
        self._remove_rows(replaced + removed)
        report.embedded_texts = self._embed(docs, changed, slot_of_doc, new_texts)
        self._rebuild_metadata(docs, slot_of_doc, hashes, next_slot, aliases)
        self.kb_revision = revision
        if save:
            self.save()
        return report

    def _slots(self) -> dict[str, int]:
        if self._slot_of is None:
            self._slot_of = {self.ids[i]: i for i in np.flatnonzero(self.alive).tolist()}
        return self._slot_of

    def _remove_rows(self, slots: Sequence[int]) -> None:
        """Drop the dense rows of these slots in ONE pass over the index (a bitmap of ids)."""
        if not slots or self.dense.ntotal == 0:
            return
        bits = np.zeros((max(slots) + 1) * MAX_TEXTS_PER_ITEM, dtype=bool)
        for slot in slots:
            bits[slot * MAX_TEXTS_PER_ITEM : (slot + 1) * MAX_TEXTS_PER_ITEM] = True
        bitmap = np.packbits(bits, bitorder="little")
        # id i is selected when bit i % 8 of byte i // 8 is set; the size is in bytes
        self.dense.remove_ids(faiss.IDSelectorBitmap(len(bitmap), faiss.swig_ptr(bitmap)))

    def _embed(
        self,
        docs: Sequence[ItemDoc],
        changed: Sequence[int],
        slot_of_doc: np.ndarray,
        new_texts: int,
    ) -> int:
        """Embed the texts of the changed items in batches and add each batch as it comes.

        When the rows expected in all are too many for the exact index, the approximate type is
        trained first on a bounded sample: the rows already there plus the first batches, up to
        `IVF_TRAIN_ROWS` vectors."""
        expected = self.dense.ntotal + new_texts
        pending: list[tuple[np.ndarray, np.ndarray]] = []
        if _is_exact(self.dense) and expected > EXACT_MAX_ROWS:
            old_ids, old_vectors = _exact_contents(self.dense)
            self.dense = _new_dense(self.encoder.dim, expected)
            if len(old_ids):
                pending.append((old_ids, old_vectors))
        pending_rows = sum(len(ids) for ids, _ in pending)
        with tqdm(
            total=new_texts, unit="text", desc="Embedding", disable=None, leave=False
        ) as progress:
            for ids, texts in _text_batches(docs, changed, slot_of_doc):
                vectors = np.ascontiguousarray(self.encoder.encode(texts), dtype=np.float32)
                progress.update(len(texts))
                if self.dense.is_trained:
                    self.dense.add_with_ids(vectors, ids)
                    continue
                pending.append((ids, vectors))
                pending_rows += len(ids)
                if pending_rows >= IVF_TRAIN_ROWS:
                    self._train_and_add(pending)
                    pending, pending_rows = [], 0
        if pending or not self.dense.is_trained:
            self._train_and_add(pending)
        return new_texts

    def _train_and_add(self, pending: list[tuple[np.ndarray, np.ndarray]]) -> None:
        if not pending:
            return
        if not self.dense.is_trained:
            _train(self.dense, np.vstack([v for _, v in pending]))
        while pending:  # batch by batch, each freed once added: no second copy of them all
            ids, vectors = pending.pop(0)
            self.dense.add_with_ids(vectors, ids)

    def _rebuild_metadata(
        self,
        docs: Sequence[ItemDoc],
        slot_of_doc: np.ndarray,
        hashes: np.ndarray,
        size: int,
        aliases: dict[str, list[str]],
    ) -> None:
        """Per-slot arrays and the lexical index for the new content (no embedding), built
        slot by slot from `docs` read by position."""
        doc_of_slot = np.full(size, -1, dtype=np.int64)
        doc_of_slot[slot_of_doc] = np.arange(len(slot_of_doc))
        ids = _StringTableBuilder()
        titles: dict[str, _StringTableBuilder] = {}
        types = np.zeros(size, np.int8)
        codes, products = _CsrBuilder(), _CsrBuilder()
        lexical = _Bm25Builder()
        for slot, pos in enumerate(doc_of_slot.tolist()):
            doc = docs[pos] if pos >= 0 else None
            if doc is None:
                ids.append("")
                codes.append(())
                products.append(())
                lexical.append([])
                continue
            ids.append(doc.id)
            types[slot] = ITEM_TYPES.index(doc.type)
            for lang, title in doc.titles.items():
                titles.setdefault(lang, _StringTableBuilder()).append(title, at=slot)
            codes.append(doc.codes)
            products.append(doc.products)
            lexical.append(tokenize(doc.lexical))
        self.code_names, code_remap = codes.names()
        self.product_names, product_remap = products.names(extra=aliases)
        self.ids = ids.build(size)
        self.types = types
        self.alive = doc_of_slot >= 0
        self.hashes = np.zeros(size, dtype="S40")
        self.hashes[self.alive] = hashes[doc_of_slot[self.alive]]
        self.titles = {lang: titles[lang].build(size) for lang in sorted(titles)}
        self.codes = codes.build(code_remap)
        self.products = products.build(product_remap)
        self.aliases = {k: list(v) for k, v in aliases.items()}
        self.lexical = lexical.build()
        self.tokenizer = tokenizer_revision()
        self._slot_of = None
        self._after_change()

    def _after_change(self, token_max: np.ndarray | None = None) -> None:
        self.code_number = {code: n for n, code in enumerate(self.code_names)}
        self.product_number = {product: n for n, product in enumerate(self.product_names)}
        self._matcher = CodeMatcher(
            self.code_names, {p: self.aliases.get(p, []) for p in self.product_names}
        )
        if self.lexical is not None:
            self._token_max = (
                np.asarray(token_max, dtype=np.float32)
                if token_max is not None
                else _column_max(self.lexical)
            )
            used = self._token_max[self._token_max > 0]
            self._typical_token = float(np.median(used)) if len(used) else 1.0
        if not _is_exact(self.dense):
            faiss.extract_index_ivf(self.dense).nprobe = IVF_NPROBE

    # --- what searching needs ---------------------------------------------------------------

    @property
    def matcher(self) -> CodeMatcher:
        return self._matcher

    def __len__(self) -> int:
        return self._items

    def dense_scores(self, vector: np.ndarray, rows: int) -> tuple[np.ndarray, np.ndarray]:
        """(slots, best cosine per slot) of the items owning the `rows` nearest texts."""
        if self.dense.ntotal == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        with _one_omp_thread():
            sims, ids = self.dense.search(vector.reshape(1, -1).astype(np.float32), rows)
        keep = ids[0] >= 0
        slots, sims = ids[0][keep] // MAX_TEXTS_PER_ITEM, sims[0][keep]
        slots, first = np.unique(slots, return_index=True)  # results come sorted by similarity
        return slots, sims[first]

    def knows_token(self, token: str) -> bool:
        """Whether the lexical documents use the search token (without a lexical channel nothing
        can be told apart, and every token counts as known)."""
        return self.lexical is None or token in self.lexical.vocab_dict

    def lexical_scores(self, tokens: Sequence[str]) -> tuple[np.ndarray, float]:
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
        scores = np.zeros(len(self.alive), np.float32)
        if not token_ids:
            return scores, best
        # bm25s sums with np.add.at, slow over the long postings of a million documents; a
        # column of the CSC matrix names each document once, so plain fancy-index adds suffice.
        matrix = self.lexical.scores
        data, indices, indptr = matrix["data"], matrix["indices"], matrix["indptr"]
        for token in token_ids:
            start, end = int(indptr[token]), int(indptr[token + 1])
            scores[indices[start:end]] += data[start:end]
        return scores, best

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


def _revision(ids: Sequence[str], hashes: np.ndarray) -> str:
    """A digest of the items' ids and content hashes, in id order."""
    digest = hashlib.sha1()
    for pos in sorted(range(len(ids)), key=ids.__getitem__):
        digest.update(ids[pos].encode() + bytes(hashes[pos]))
    return digest.hexdigest()


def _text_batches(
    docs: Sequence[ItemDoc], positions: Sequence[int], slot_of_doc: np.ndarray
) -> Iterator[tuple[np.ndarray, list[str]]]:
    """(FAISS ids, texts) of the items at `positions`, `EMBED_BATCH` texts at a time."""
    ids = array("q")
    texts: list[str] = []
    for pos in positions:
        base = int(slot_of_doc[pos]) * MAX_TEXTS_PER_ITEM
        doc_texts = docs[pos].texts
        ids.extend(range(base, base + len(doc_texts)))
        texts.extend(doc_texts)
        if len(texts) >= EMBED_BATCH:
            yield np.frombuffer(ids, dtype=np.int64).copy(), texts
            ids, texts = array("q"), []
    if texts:
        yield np.frombuffer(ids, dtype=np.int64).copy(), texts


def _read_arrays(index_dir: Path, mmap: bool) -> dict[str, np.ndarray]:
    """The per-item arrays: one .npy each (mapped when `mmap`), or a format-2 items.npz."""
    folder = index_dir / _ARRAYS
    if folder.is_dir():
        mode: Literal["r"] | None = "r" if mmap else None
        # Plain ndarray views of the maps (same pages): reading a row of a `np.memmap` pays for
        # the subclass on every slice, and searches read rows by the hundred.
        return {
            f.stem: np.asarray(np.load(f, mmap_mode=mode, allow_pickle=False))
            for f in folder.glob("*.npy")
        }
    with np.load(index_dir / _ARRAYS_V2, allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}


@contextmanager
def _one_omp_thread() -> Iterator[None]:
    """FAISS's OpenMP team held to one thread for the calling thread (OpenMP keeps the number
    per thread) while it searches one vector: the distances of one query are computed on one
    thread anyway, but `IndexIDMap2` maps the 256 ids back in a parallel loop, and starting and
    joining a team of two for it cost 3-6 ms of CPU a query on a busy 2-core host (0.1 ms on
    one thread; the same results)."""
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(threads)


def _plain_views(retriever: bm25s.BM25) -> bm25s.BM25:
    """The BM25 matrix's arrays as plain ndarray views of their maps (the same pages): each
    search slices them once per query word, and a `np.memmap` slice pays for the subclass."""
    retriever.scores = {
        name: np.asarray(value) if isinstance(value, np.ndarray) else value
        for name, value in retriever.scores.items()
    }
    return retriever


def _read_dense(path: Path, manifest: dict, mmap: bool) -> faiss.Index:
    """The FAISS index; mapped read-only when `mmap`: IVF keeps its inverted lists in the file
    (`IO_FLAG_MMAP`: changing them raises), the exact index its flat codes (`IO_FLAG_MMAP_IFC`)."""
    if not mmap:
        return faiss.read_index(str(path))
    if manifest.get("dense_type") == "IndexIDMap2":
        return faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC)
    return faiss.read_index(str(path), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)


class _StringTableBuilder:
    """A `StringTable` appended to string by string (one growing UTF-8 buffer)."""

    def __init__(self) -> None:
        self._blob = bytearray()
        self._ends = array("q")

    def append(self, text: str, at: int | None = None) -> None:
        """Add `text` as row `at` (rows before it empty), else as the next row."""
        if at is not None:
            self._ends.extend([len(self._blob)] * (at - len(self._ends)))
        self._blob += text.encode("utf-8")
        self._ends.append(len(self._blob))

    def build(self, rows: int) -> StringTable:
        self._ends.extend([len(self._blob)] * (rows - len(self._ends)))
        offsets = np.zeros(rows + 1, dtype=np.int64)
        offsets[1:] = np.frombuffer(self._ends, dtype=np.int64)
        return StringTable(np.frombuffer(bytes(self._blob), dtype=np.uint8).copy(), offsets)


class _CsrBuilder:
    """Per-slot lists of names as CSR numbers, numbered at the end in sorted name order."""

    def __init__(self) -> None:
        self._number: dict[str, int] = {}
        self._values = array("i")
        self._ends = array("q")

    def append(self, names: Iterable[str]) -> None:
        for name in names:
            self._values.append(self._number.setdefault(name, len(self._number)))
        self._ends.append(len(self._values))

    def names(self, extra: Iterable[str] = ()) -> tuple[list[str], np.ndarray]:
        """The sorted names (with `extra`) and the map from first-seen numbers to their place."""
        ordered = sorted(set(self._number) | set(extra))
        place = {name: n for n, name in enumerate(ordered)}
        remap = np.array([place[name] for name in self._number], dtype=np.int32)
        return ordered, remap

    def build(self, remap: np.ndarray) -> _Csr:
        indptr = np.zeros(len(self._ends) + 1, dtype=np.int64)
        indptr[1:] = np.frombuffer(self._ends, dtype=np.int64)
        values = np.frombuffer(self._values, dtype=np.int32)
        return _Csr(indptr, remap[values] if len(values) else np.zeros(0, np.int32))


class _Bm25Builder:
    """The BM25 matrix of bm25s (method "lucene", as `bm25s.BM25(k1, b).index` computes it)
    built from documents given one by one: token counts are kept per chunk of documents as
    numpy arrays (12 bytes per distinct token of a document), never as Python lists."""

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}
        self._lengths = array("i")
        self._tokens = array("i")  # token ids of the current chunk
        self._doc_ends = array("q")
        self._chunks: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # doc, token, tf

    def append(self, tokens: list[str]) -> None:
        vocab = self.vocab
        self._tokens.extend([vocab.setdefault(t, len(vocab)) for t in tokens])
        self._doc_ends.append(len(self._tokens))
        self._lengths.append(len(tokens))
        if len(self._doc_ends) >= LEXICAL_CHUNK:
            self._flush()

    def _flush(self) -> None:
        if not self._doc_ends:
            return
        first_doc = len(self._lengths) - len(self._doc_ends)
        ends = np.frombuffer(self._doc_ends, dtype=np.int64)
        tokens = np.frombuffer(self._tokens, dtype=np.int32).astype(np.int64)
        docs = np.repeat(np.arange(len(ends), dtype=np.int64), np.diff(ends, prepend=0))
        keys, tf = np.unique((docs << 32) | tokens, return_counts=True)  # by doc, then token
        self._chunks.append(
            (
                (keys >> 32).astype(np.int32) + first_doc,
                (keys & 0xFFFFFFFF).astype(np.int32),
                tf.astype(np.float32),
            )
        )
        self._tokens, self._doc_ends = array("i"), array("q")

    def build(self) -> bm25s.BM25:
        self._flush()
        n_docs, n_vocab = len(self._lengths), len(self.vocab)
        lengths = np.frombuffer(self._lengths, dtype=np.int32).astype(np.float64)
        avg_length = float(lengths.mean()) if n_docs else 0.0
        df = np.zeros(n_vocab, dtype=np.int64)
        for _, tokens, _ in self._chunks:
            df += np.bincount(tokens, minlength=n_vocab)
        idf = np.log(1 + (n_docs - df + 0.5) / (df + 0.5)).astype(np.float32)
        indptr = np.zeros(n_vocab + 1, dtype=np.int64)
        indptr[1:] = np.cumsum(df)
        data = np.zeros(int(indptr[-1]), dtype=np.float32)
        indices = np.zeros(int(indptr[-1]), dtype=np.int32)
        cursor = indptr[:-1].copy()
        while self._chunks:  # column by column, documents in order; each chunk freed once used
            docs, tokens, tfs = self._chunks.pop(0)
            norm = BM25_K1 * ((1 - BM25_B) + BM25_B * lengths[docs] / max(avg_length, 1e-9))
            scores = (idf[tokens] * (tfs / (norm + tfs))).astype(np.float32)
            order = np.argsort(tokens, kind="stable")
            tokens, docs, scores = tokens[order], docs[order], scores[order]
            starts = np.flatnonzero(np.diff(tokens, prepend=-1))
            counts = np.diff(np.append(starts, len(tokens)))
            rank = np.arange(len(tokens)) - np.repeat(starts, counts)
            where = cursor[tokens] + rank
            indices[where], data[where] = docs, scores
            cursor[tokens[starts]] += counts
        retriever = bm25s.BM25(k1=BM25_K1, b=BM25_B)
        retriever.scores = {"data": data, "indices": indices, "indptr": indptr, "num_docs": n_docs}
        retriever.vocab_dict = self.vocab
        retriever.unique_token_ids_set = set(self.vocab.values())
        retriever.nonoccurrence_array = None  # "lucene" has none; `save` asks for it
        return retriever


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
    if len(vectors) > IVF_TRAIN_ROWS:
        rng = np.random.default_rng(0)
        vectors = vectors[rng.choice(len(vectors), IVF_TRAIN_ROWS, replace=False)]
    index.train(np.ascontiguousarray(vectors))


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
