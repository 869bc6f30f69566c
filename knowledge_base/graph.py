"""`KnowledgeGraph`: a read-only, in-memory view of a knowledge base with lookups both ways.

Built once from a `KnowledgeBase` (e.g. `store.load_knowledge_base`), it answers "which faults
show code E03", "which components has product X", "which causes explain fault F" with dict
lookups, for answer assembly and retrieval.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from knowledge_base.format import (
    EDGE_NAMES,
    NODE_LISTS,
    REFERENCES,
    Cause,
    Component,
    Faq,
    Fault,
    KnowledgeBase,
    Part,
    Product,
    Solution,
)

NodeKey = tuple[str, str]  # (list name, id), e.g. ("faults", "F-AC300-E03")


def normalize_code(code: str) -> str:
    """Codes compare without case or surrounding blanks (`e03 ` finds `E03`)."""
    return code.strip().upper()


class KnowledgeGraph:
    """Items by id per list, outgoing and incoming edges, faults by code, product by alias."""

    def __init__(self, kb: KnowledgeBase, *, revision: int = 0) -> None:
        self.kb = kb
        self.revision = revision
        self.items: dict[str, dict[str, Any]] = {
            kind: {item.id: item for item in getattr(kb, kind)} for kind in NODE_LISTS
        }
        self._out: dict[NodeKey, list[tuple[str, NodeKey]]] = {}
        self._in: dict[NodeKey, list[tuple[str, NodeKey]]] = {}
        for kind, fields in REFERENCES.items():
            for item in getattr(kb, kind):
                for field, target in fields.items():
                    rel = EDGE_NAMES[(kind, field)]
                    for dst in getattr(item, field):
                        self._out.setdefault((kind, item.id), []).append((rel, (target, dst)))
                        self._in.setdefault((target, dst), []).append((rel, (kind, item.id)))
        self._faults_by_code: dict[str, list[Fault]] = {}
        for fault in kb.faults:
            for code in fault.codes:
                self._faults_by_code.setdefault(normalize_code(code), []).append(fault)
        self._products_by_alias: dict[str, Product] = {}
        for product in kb.products:
            for name in [product.id, *product.aliases]:
                self._products_by_alias.setdefault(name.strip().casefold(), product)

    # --- items ---------------------------------------------------------------------------------
    @property
    def products(self) -> dict[str, Product]:
        return self.items["products"]

    @property
    def components(self) -> dict[str, Component]:
        return self.items["components"]

    @property
    def parts(self) -> dict[str, Part]:
        return self.items["parts"]

    @property
    def solutions(self) -> dict[str, Solution]:
        return self.items["solutions"]

    @property
    def causes(self) -> dict[str, Cause]:
        return self.items["causes"]

    @property
    def faults(self) -> dict[str, Fault]:
        return self.items["faults"]

    @property
    def faqs(self) -> dict[str, Faq]:
        return self.items["faqs"]

    def get(self, kind: str, item_id: str) -> Any | None:
        """The item of a list by id, or None."""
        return self.items.get(kind, {}).get(item_id)

    def find(self, item_id: str) -> tuple[str, Any] | None:
        """(list name, item) for an id, looking at faults and FAQs first (answerable items)."""
        for kind in ("faults", "faqs", *NODE_LISTS):
            item = self.items[kind].get(item_id)
            if item is not None:
                return kind, item
        return None

    # --- edges ---------------------------------------------------------------------------------
    def out_edges(self, kind: str, item_id: str, rel: str | None = None) -> Iterator[NodeKey]:
        """What the item references, in listed order (optionally only one relation)."""
        for edge_rel, key in self._out.get((kind, item_id), []):
            if rel is None or edge_rel == rel:
                yield key

    def in_edges(self, kind: str, item_id: str, rel: str | None = None) -> Iterator[NodeKey]:
        """What references the item (optionally only over one relation)."""
        for edge_rel, key in self._in.get((kind, item_id), []):
            if rel is None or edge_rel == rel:
                yield key

    def _referrers(self, kind: str, item_id: str, source: str) -> list[Any]:
        return [self.items[k][i] for k, i in self.in_edges(kind, item_id) if k == source]

    # --- questions answer assembly and retrieval ask -------------------------------------------
    def faults_by_code(self, code: str) -> list[Fault]:
        """Faults that show this error/alarm code."""
        return list(self._faults_by_code.get(normalize_code(code), []))

    def codes(self) -> list[str]:
        """Every code some fault shows, normalized."""
        return sorted(self._faults_by_code)

    def product_by_alias(self, name: str) -> Product | None:
        """The product with this id or alias (case-insensitive)."""
        return self._products_by_alias.get(name.strip().casefold())

    def faults_of_product(self, product_id: str) -> list[Fault]:
        """Faults that affect a product."""
        return self._referrers("products", product_id, "faults")

    def faults_of_component(self, component_id: str) -> list[Fault]:
        """Faults that affect a component."""
        return self._referrers("components", component_id, "faults")

    def faqs_of_product(self, product_id: str) -> list[Faq]:
        """FAQs about a product."""
        return self._referrers("products", product_id, "faqs")

    def components_of(self, product_id: str) -> list[Component]:
        """Components that are part of a product."""
        return self._referrers("products", product_id, "components")

    def faults_with_cause(self, cause_id: str) -> list[Fault]:
        """Faults a cause may explain."""
        return self._referrers("causes", cause_id, "faults")

    def causes_of(self, fault_id: str) -> list[Cause]:
        """A fault's causes in listed order (unknown ids skipped)."""
        return self._resolve(self.faults[fault_id].causes, self.causes)

    def solutions_of(self, kind: str, item_id: str) -> list[Solution]:
        """The solutions of a cause or fault, in order of preference."""
        return self._resolve(self.items[kind][item_id].solutions, self.solutions)

    def parts_of(self, solution_id: str) -> list[Part]:
        """Parts a solution needs."""
        return self._resolve(self.solutions[solution_id].parts, self.parts)

    def related_faults(self, fault_id: str) -> list[Fault]:
        """Faults listed as related to this one, or that list it as related."""
        listed = self._resolve(self.faults[fault_id].related, self.faults)
        listing = self._referrers("faults", fault_id, "faults")
        return list(
            {fault.id: fault for fault in [*listed, *listing] if fault.id != fault_id}.values()
        )

    @staticmethod
    def _resolve(ids: list[str], items: dict[str, Any]) -> list[Any]:
        return [items[item_id] for item_id in ids if item_id in items]
