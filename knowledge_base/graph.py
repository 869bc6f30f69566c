"""`KnowledgeGraph`: a read-only, in-memory view of a knowledge base.

Built once from a `KnowledgeBase` (e.g. `store.load_knowledge_base`), it answers "which item has
this id", "which causes, solutions and parts has fault F" and "which codes do faults show" with
dict lookups, for answer assembly and the bot's code matcher.
"""

from __future__ import annotations

from typing import Any

from knowledge_base.format import (
    NODE_LISTS,
    Cause,
    Faq,
    Fault,
    KnowledgeBase,
    Part,
    Product,
    Solution,
)


def normalize_code(code: str) -> str:
    """Codes compare without case or surrounding blanks (`e03 ` finds `E03`)."""
    return code.strip().upper()


class KnowledgeGraph:
    """Items by id per list, and the codes faults show."""

    def __init__(self, kb: KnowledgeBase, *, revision: int = 0) -> None:
        self.revision = revision
        self.items: dict[str, dict[str, Any]] = {
            kind: {item.id: item for item in getattr(kb, kind)} for kind in NODE_LISTS
        }
        self._codes = sorted({normalize_code(code) for fault in kb.faults for code in fault.codes})

    # --- items ---------------------------------------------------------------------------------
    @property
    def products(self) -> dict[str, Product]:
        return self.items["products"]

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

    def codes(self) -> list[str]:
        """Every code some fault shows, normalized."""
        return list(self._codes)

    def causes_of(self, fault_id: str) -> list[Cause]:
        """A fault's causes in listed order (unknown ids skipped)."""
        return self._resolve(self.faults[fault_id].causes, self.causes)

    def solutions_of(self, kind: str, item_id: str) -> list[Solution]:
        """The solutions of a cause or fault, in order of preference."""
        return self._resolve(self.items[kind][item_id].solutions, self.solutions)

    def parts_of(self, solution_id: str) -> list[Part]:
        """Parts a solution needs."""
        return self._resolve(self.solutions[solution_id].parts, self.parts)

    @staticmethod
    def _resolve(ids: list[str], items: dict[str, Any]) -> list[Any]:
        return [items[item_id] for item_id in ids if item_id in items]
