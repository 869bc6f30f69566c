"""`KnowledgeService`: the knowledge base as the rest of the service uses it.

It holds the graph (for answers) and the search index (for finding items), opened from the
database and kept in step with it: the on-disk index is memory-mapped without re-embedding (the
workers of one host share its pages), and after an import only changed items are embedded again
(`refresh`, `on_kb_changed`).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from knowledge_base.answers import Answer, assemble_answer
from knowledge_base.encoders import QUERY_TEXTS, Encoder, load_encoder
from knowledge_base.format import KnowledgeBase
from knowledge_base.graph import KnowledgeGraph
from knowledge_base.index import KnowledgeIndex, SyncReport, documents, product_aliases
from knowledge_base.search import NO_ANSWER_THRESHOLD, Hit, Searcher
from knowledge_base.store import kb_revision, load_knowledge_base

if TYPE_CHECKING:
    from core.settings import Settings

Sessions = async_sessionmaker[AsyncSession]


def sync_index(
    kb: KnowledgeBase, index_dir: Path, encoder: Encoder, revision: str = ""
) -> tuple[KnowledgeIndex, SyncReport]:
    """The index in `index_dir` brought in step with `kb` (embedding only what changed),
    memory-mapped from its files so that the worker processes of a host share one copy."""
    index = KnowledgeIndex.open(index_dir, encoder)
    if revision and index.kb_revision == revision and len(index) and index.tokens_current:
        return index, SyncReport(unchanged=len(index))
    report = index.sync(documents(kb), product_aliases(kb), kb_revision=revision or None)
    if report.changed:  # what sync built is this process's own memory: map the saved files
        index = KnowledgeIndex.open(index_dir, encoder)
    return index, report


class KnowledgeService:
    """Search and answers over one knowledge base; `refresh` swaps in a new state atomically."""

    def __init__(self, graph: KnowledgeGraph, index: KnowledgeIndex) -> None:
        self._state = (graph, Searcher(index))
        self._refresh_lock = threading.Lock()
        self.threshold = NO_ANSWER_THRESHOLD

    @classmethod
    def from_knowledge_base(
        cls, kb: KnowledgeBase, index_dir: Path, encoder_spec: str | None = None
    ) -> KnowledgeService:
        """A service over a KB given in memory (files, tests, evaluation)."""
        index, _ = sync_index(kb, Path(index_dir), load_encoder(encoder_spec))
        return cls(KnowledgeGraph(kb), index)

    @classmethod
    async def open(
        cls, sessions: Sessions, index_dir: Path, encoder_spec: str | None = None
    ) -> KnowledgeService:
        """The service over the stored KB; the saved index is reused when it is up to date."""
        kb, revision = await _load(sessions)
        encoder = load_encoder(encoder_spec)
        index, _ = await asyncio.to_thread(sync_index, kb, Path(index_dir), encoder, str(revision))
        return cls(KnowledgeGraph(kb, revision=revision), index)

    @property
    def answer_confidence(self) -> float:
        """The confidence (`Hit.confidence`) a hit needs to be given as the answer."""
        return self._state[1].calibration.answer_threshold

    @property
    def graph(self) -> KnowledgeGraph:
        return self._state[0]

    @property
    def index(self) -> KnowledgeIndex:
        return self._state[1].index

    def search(self, text: str, lang: str | None = None, k: int = 5) -> list[Hit]:
        """Best items first; a top score below `threshold` means no good answer."""
        return self._state[1].search(text, lang=lang, k=k)

    def embed_ahead(self, texts: Sequence[tuple[Encoder, str]], queries: Sequence[str]) -> None:
        """Embed, into the encoder's query cache, the `texts` other readers embed with this
        service's encoder and the search texts of `queries`, in as few passes as the cache
        takes: the encoder reads its weights once a pass, so a short text costs about half as
        much in a batch as alone (a Cantonese message's own text, the NLU's, and its Mandarin
        search text; the readings waiting for their turn)."""
        encoder, searcher = self.index.encoder, self._state[1]
        own = [text for used, text in texts if used is encoder]
        wanted = list(dict.fromkeys([*own, *map(searcher.embedded_text, queries)]))
        if len(wanted) < 2:  # one text: the search embeds it when it needs it
            return
        for start in range(0, len(wanted), QUERY_TEXTS):
            encoder.encode(wanted[start : start + QUERY_TEXTS])

    def answer(self, item_id: str, lang: str) -> Answer:
        """The full answer for a fault or FAQ (`lang`: zh, zh-Hant or en)."""
        return assemble_answer(self.graph, item_id, lang)

    async def refresh(self, sessions: Sessions) -> SyncReport:
        """Reload the KB after an import and update the index incrementally."""
        kb, revision = await _load(sessions)
        return await asyncio.to_thread(self._swap, kb, revision)

    def _swap(self, kb: KnowledgeBase, revision: int) -> SyncReport:
        with self._refresh_lock:
            index_dir, encoder = self.index.index_dir, self.index.encoder
            index, report = sync_index(kb, index_dir, encoder, str(revision))
            self._state = (KnowledgeGraph(kb, revision=revision), Searcher(index))
        return report


async def _load(sessions: Sessions) -> tuple[KnowledgeBase, int]:
    async with sessions() as session:
        return await load_knowledge_base(session), await kb_revision(session)


async def on_kb_changed(*, settings: Settings, sessions: Sessions) -> SyncReport:
    """Called by `aftersales kb import` after a successful import: sync the on-disk index."""
    kb, revision = await _load(sessions)
    settings.ensure_dirs()
    encoder = load_encoder(settings.embedding_model)
    _, report = await asyncio.to_thread(sync_index, kb, settings.index_dir, encoder, str(revision))
    return report
