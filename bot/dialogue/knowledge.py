"""The dialogue's view of the knowledge base: ranked candidates with their products and codes
(for clarifying questions), assembled answers, and what a text names.

Built from a search function, an answer function and the KB graph, so that it wraps the
service's `KnowledgeService` as well as a searcher opened on a KB folder (evaluation, tests).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.dialogue.ports import Candidate, Mentions
from knowledge_base.answers import assemble_answer, localize, normalize_lang
from knowledge_base.encoders import Encoder, load_encoder
from knowledge_base.graph import KnowledgeGraph
from knowledge_base.index import KnowledgeIndex, documents, product_aliases
from knowledge_base.loader import read_knowledge_base
from knowledge_base.search import NO_ANSWER_THRESHOLD, Searcher
from knowledge_base.text import CodeMatcher, has_chinese

SearchFn = Callable[[str, str, int], list[Any]]  # hits with .id .type .score .title
AnswerFn = Callable[[str, str], Any]  # an answer with .text


class GraphKnowledge:
    """`Knowledge` for the dialogue over a search function and a `KnowledgeGraph`."""

    def __init__(
        self, *, search: SearchFn, answer: AnswerFn, graph: KnowledgeGraph, threshold: float
    ) -> None:
        self._search = search
        self._answer = answer
        self.graph = graph
        self.threshold = threshold
        names = {
            product.id: [*product.aliases, *_chinese_names(product.name)]
            for product in graph.products.values()
        }
        self._matcher = CodeMatcher(graph.codes(), names)

    def search(self, text: str, lang: str, k: int) -> list[Candidate]:
        return [self._candidate(hit) for hit in self._search(text, lang, k)]

    def answer(self, item_id: str, lang: str) -> str:
        return str(self._answer(item_id, lang).text)

    def mentions(self, text: str) -> Mentions:
        found = self._matcher.find(text)
        return Mentions(
            products=frozenset(found.products),
            codes=frozenset(found.codes),
            unknown_codes=frozenset(found.unknown_codes),
        )

    def product_names(self, lang: str) -> dict[str, str]:
        language = normalize_lang(lang)
        return {
            product.id: localize(product.name, language) or product.id
            for product in self.graph.products.values()
        }

    def _candidate(self, hit: Any) -> Candidate:
        item = self.graph.get("faults" if hit.type == "fault" else "faqs", hit.id)
        return Candidate(
            id=hit.id,
            type=hit.type,
            score=float(hit.score),
            title=str(getattr(hit, "title", "") or ""),
            products=tuple(getattr(item, "products", ()) or ()),
            codes=tuple(getattr(item, "codes", ()) or ()),
        )


def _chinese_names(name: object) -> list[str]:
    """A product's Chinese names, matched as substrings (ASCII names are matched as aliases)."""
    values = name.values() if isinstance(name, dict) else [name]
    return [str(value) for value in values if has_chinese(str(value))]


def open_folder(path: Path, index_dir: Path, encoder: Encoder | None = None) -> GraphKnowledge:
    """A KB file or folder indexed into `index_dir` (embeds only what changed since last time),
    for the evaluation and the terminal chat on a KB that is not in the service's store."""
    kb = read_knowledge_base(path)
    graph = KnowledgeGraph(kb)
    index = KnowledgeIndex.open(index_dir, encoder or load_encoder())
    index.sync(documents(kb), product_aliases(kb))
    searcher = Searcher(index)
    return GraphKnowledge(
        search=lambda text, lang, k: searcher.search(text, lang, k),
        answer=lambda item_id, lang: assemble_answer(graph, item_id, lang),
        graph=graph,
        threshold=NO_ANSWER_THRESHOLD,
    )
